"""The dispatcher's loop: claim the most urgent due notification, decide, send, record.

One notification per claim, so a P0 that arrives while others are being sent is the next
claimed. Every decision is ``receiver.lifecycle``'s; every outcome write is fenced by the
claim's token. Several dispatchers may run against one database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from receiver import lifecycle, links, templates
from receiver.channels.base import Channel, DeliveryError, NotConfigured, TransientError
from receiver.channels.registry import kind_of
from receiver.config import Dispatcher as DispatcherSettings
from receiver.delivery.chores import Chores
from receiver.delivery.lease import LeaseKeeper
from receiver.model import Claimed, Digest, Kind, Link, State
from receiver.store import budget, db, digests, outbox

log = logging.getLogger("d76.dispatcher")


class Dispatcher:
    """Claims, sends and records, one notification at a time; run several against one database.

    Longer than the house's usual class: it is the one writer of delivery outcomes and owns
    the two connections (work and LISTEN) that every step shares, so notifications, digests
    and the loop stay together, in that order, each section short.
    """

    def __init__(
        self,
        dsn: str,
        settings: DispatcherSettings,
        channels: Mapping[str, Channel],
        *,
        rng: random.Random | None = None,
        chores: Chores | None = None,
        name: str | None = None,
        link_base: links.LinkBase | None = None,
    ) -> None:
        self._dsn = dsn
        self._links = link_base  # None: messages without links
        self._settings = settings
        self._channels = channels
        self._rng = rng or random.Random()
        self.chores = chores
        self.name = name or f"dispatcher:{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        # Written to by stop(): wakes the LISTEN wait at once instead of at its timeout.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._work: db.Connection | None = None
        self._listener: db.Connection | None = None
        self._leases = LeaseKeeper(dsn, settings.lease_seconds)

    def stop(self, *_: object) -> None:
        self._stop.set()
        with contextlib.suppress(BlockingIOError, OSError):  # a full pipe wakes it all the same
            os.write(self._wake_write, b"x")

    # -- connections ------------------------------------------------------------------------

    def connect(self) -> db.Connection:
        self._close_connections()
        self._work = db.connect(self._dsn)
        self._listener = db.connect(self._dsn)
        db.listen(self._listener)
        return self._work

    def _close_connections(self) -> None:
        for conn in (self._work, self._listener):
            if conn is not None and not conn.closed:
                conn.close()
        self._work = self._listener = None
        self._leases.close()

    # -- one notification -------------------------------------------------------------------

    def _budget(self, target: str, allowed: int) -> tuple[int | None, float]:
        assert self._work is not None
        return budget.reserve_send(
            self._work, target, allowed=allowed, window_seconds=self._settings.rate_window_seconds
        )

    def deliver(self, item: Claimed) -> None:
        conn = self._work
        assert conn is not None
        channel = self._channels.get(item.target)
        if channel is None:
            outbox.record_final(conn, item, State.FAILED, f"no channel named {item.target!r}")
            log.error("notification %s: no channel named %r", item.id, item.target)
            return
        assert item.claimed_at is not None
        verdict = lifecycle.not_worth_sending(item, item.claimed_at)
        if verdict is not None:
            outbox.record_final(conn, item, verdict.state, verdict.reason)
            log.info("notification %s %s: %s", item.id, verdict.state, verdict.reason)
            return
        s = self._settings
        allowed = lifecycle.allowance(
            item.priority, item.kind, s.rate_limit_per_window, s.p0_reserve
        )
        slot, frees_in = self._budget(item.target, allowed)
        if slot is None:
            over = lifecycle.over_budget(item.priority, item.kind)
            if over is lifecycle.OverBudget.WAIT:
                outbox.postpone(conn, item, frees_in)  # a P0 is never folded: next free slot
            elif over is lifecycle.OverBudget.DROP:
                reason = "over the rate budget: the graph is on the alert's page"
                outbox.record_final(conn, item, State.CANCELLED, reason)
                log.info("notification %s (graph) not sent: %s", item.id, reason)
            else:
                digests.fold(conn, item)
                log.info("notification %s folded into the next %s digest", item.id, item.target)
            return
        outgoing = kind_of(item.target).message(item, self._links_for(item))
        started = time.monotonic()
        try:
            with self._leases.holding(lambda c, lease: outbox.renew(c, item, lease), f"#{item.id}"):
                message_id = channel.send(outgoing)
        except DeliveryError as exc:
            elapsed = int((time.monotonic() - started) * 1000)
            self._failed(item, exc, slot, elapsed)
        else:
            elapsed = int((time.monotonic() - started) * 1000)
            if not outbox.record_sent(conn, item, message_id, elapsed):
                log.warning("notification %s sent after its lease was lost (a duplicate)", item.id)
            log.info(
                "notification %s sent: %s %s [%s] %s -> %s",
                item.id, item.kind, item.alertname, item.severity, item.target, message_id,
            )  # fmt: skip

    def _links_for(self, item: Claimed) -> list[Link]:
        return links.for_alert(item, self._links) if self._links else []

    def _failed(self, item: Claimed, exc: DeliveryError, slot: int, duration_ms: int) -> None:
        conn = self._work
        assert conn is not None
        unknown = isinstance(exc, TransientError) and exc.outcome_unknown
        if not unknown:  # a message that may have arrived keeps its slot: the budget holds
            budget.release_send(conn, slot)
        transient = isinstance(exc, TransientError)
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        if item.kind == Kind.GRAPH and lifecycle.photo_gives_up(
            transient=transient, retry_after=retry_after
        ):
            outbox.record_final(conn, item, State.CANCELLED, f"graph not sent: {exc}", duration_ms)
            log.warning("notification %s (graph) not sent, not retried: %s", item.id, exc)
            return
        if isinstance(exc, NotConfigured):
            outbox.record_final(conn, item, State.UNSENT, str(exc), duration_ms)
            log.warning(
                "notification %s not sent (%s); message follows:\n%s",
                item.id, exc, templates.plain_text(item, self._links_for(item)),
            )  # fmt: skip
        elif isinstance(exc, TransientError):
            retry = self._retry(item.target, exc)
            outbox.record_retry(
                conn,
                item,
                str(exc),
                retry.delay_seconds,
                duration_ms,
                throttled=retry.throttled,
                outcome_unknown=unknown,
            )
            level = logging.ERROR if item.attempts > self._settings.max_retries else logging.WARNING
            log.log(
                level,
                "notification %s attempt %s failed, %s paused %.1fs: %s",
                item.id, item.attempts, item.target, retry.delay_seconds, exc,
            )  # fmt: skip
        else:
            outbox.record_final(conn, item, State.FAILED, str(exc), duration_ms)
            log.error("notification %s failed for good: %s", item.id, exc)

    def _retry(self, target: str, exc: TransientError) -> lifecycle.Retry:
        """How long ``target`` waits after ``exc``: its retry_after, or its backoff."""
        assert self._work is not None
        s = self._settings
        return lifecycle.after_transient(
            outbox.destination_failures(self._work, target),
            exc.retry_after,
            s.backoff_base_seconds,
            s.backoff_max_seconds,
            self._rng,
        )

    # -- digests ----------------------------------------------------------------------------

    def send_due_digest(self) -> bool:
        """Send one due digest if a destination has one and its budget allows; True if sent
        or tried."""
        conn = self._work
        assert conn is not None
        s = self._settings
        for target in digests.due_targets(conn):
            channel = self._channels.get(target)
            if channel is None:
                continue
            slot, frees_in = self._budget(target, s.rate_limit_per_window - s.p0_reserve)
            if slot is None:
                digests.defer(conn, target, frees_in)
                continue
            digest = digests.claim(conn, target, owner=self.name, lease_seconds=s.lease_seconds)
            if digest is None:
                budget.release_send(conn, slot)
                continue
            self._send_digest(channel, digest, slot)
            return True
        return False

    def _send_digest(self, channel: Channel, digest: Digest, slot: int) -> None:
        conn = self._work
        assert conn is not None
        try:
            with self._leases.holding(
                lambda c, lease: digests.renew(c, digest, lease), f"digest #{digest.id}"
            ):
                shown = links.for_digest(digest, self._links) if self._links else []
                message_id = channel.send(kind_of(digest.target).digest(digest, shown))
        except TransientError as exc:
            if not exc.outcome_unknown:
                budget.release_send(conn, slot)
            retry = self._retry(digest.target, exc)
            digests.retry(
                conn,
                digest,
                str(exc),
                retry.delay_seconds,
                throttled=retry.throttled,
                outcome_unknown=exc.outcome_unknown,
            )
            log.warning("digest %s for %s not sent, retry in %.1fs: %s",
                        digest.id, digest.target, retry.delay_seconds, exc)  # fmt: skip
        except DeliveryError as exc:
            budget.release_send(conn, slot)
            digests.fail(conn, digest, str(exc))
            log.error("digest %s for %s failed for good: %s", digest.id, digest.target, exc)
        else:
            digests.finish(conn, digest, message_id)
            log.info("digest %s sent to %s: %s folded notifications",
                     digest.id, digest.target, digest.folded)  # fmt: skip

    # -- the loop ---------------------------------------------------------------------------

    def step(self) -> bool:
        """Claim and handle the most urgent due notification (and, unless it is a P0, a due
        digest first); True if there was anything to do."""
        conn = self._work
        assert conn is not None
        item = outbox.claim(conn, owner=self.name, lease_seconds=self._settings.lease_seconds)
        did = False
        if item is None or item.priority > 0:  # a P0 goes before any digest
            did = self.send_due_digest()
        if item is not None:
            try:
                self.deliver(item)
            except db.UNAVAILABLE:
                raise
            except Exception as exc:  # a bug must not stop delivery of everything else
                log.exception("notification %s: unexpected error", item.id)  # log is redacted
                # Only the type is stored and shown: an exception's text may quote anything.
                outbox.record_final(
                    conn, item, State.FAILED, f"internal error: {type(exc).__name__}"
                )
            did = True
        return did

    def _wait_for_work(self) -> None:
        assert self._work is not None and self._listener is not None
        due = outbox.seconds_until_due(self._work)
        timeout = self._settings.idle_wake_seconds if due is None else due
        timeout = min(timeout, self._settings.idle_wake_seconds)
        if self.chores is not None:
            timeout = min(timeout, self.chores.seconds_until_due())
        if timeout <= 0:
            return
        waitables: list[Any] = [self._listener, self._wake_read]
        ready, _, _ = select.select(waitables, [], [], timeout)
        if self._listener in ready:
            self._listener.poll()
            self._listener.notifies.clear()

    def run(self) -> None:
        """Deliver until stopped. Any error is logged, and the loop backs off and carries on:
        only invalid configuration at start-up stops a dispatcher."""
        log.info("dispatcher started (%s)", self.name)
        errors = 0
        while not self._stop.is_set():
            try:
                conn = self._work if self._work is not None else self.connect()
                if self.chores is not None:
                    self.chores.run_due(conn)
                if not self.step():
                    self._wait_for_work()
                errors = 0
            except Exception as exc:
                errors += 1
                pause = min(30.0, 0.5 * 2 ** min(errors, 6))
                if isinstance(exc, db.UNAVAILABLE):
                    log.warning("database unavailable (%s); retrying in %.0fs",
                                str(exc).strip(), pause)  # fmt: skip
                else:
                    log.exception("dispatcher error; reconnecting in %.0fs", pause)
                self._close_connections()
                self._stop.wait(pause)
        self.close()
        log.info("dispatcher stopped")

    def close(self) -> None:
        """Close its connections, channels and wake-up pipe (``run`` does it when stopped)."""
        self._close_connections()
        for channel in self._channels.values():
            channel.close()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
