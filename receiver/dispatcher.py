"""The dispatcher: delivers queued notifications, one process (or several) beside the webhook.

Loop: claim due notifications (most urgent first, ``FOR UPDATE SKIP LOCKED`` under a lease,
so several dispatchers share the work and a killed one's claims return to the queue), render,
send through the target's channel, record the attempt. When there is nothing due it sleeps on
PostgreSQL LISTEN until the webhook NOTIFYs new work or the next retry falls due.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from types import FrameType
from typing import Any

import psycopg2.extensions
from pydantic import SecretStr

from receiver import render, store, summary
from receiver.channels.base import (
    Channel,
    DeliveryError,
    NotConfigured,
    Outgoing,
    TransientError,
)
from receiver.channels.email import EmailChannel
from receiver.channels.slack import SlackChannel
from receiver.channels.telegram import TelegramChannel
from receiver.config import Dispatcher as DispatcherSettings
from receiver.config import Settings
from receiver.deadman import DeadMansSwitch

log = logging.getLogger("d76.dispatcher")


def _telegram(item: store.Claimed) -> Outgoing:
    buttons = (
        render.telegram_buttons(item.alert_id, acknowledged=False) if item.kind == "firing" else ()
    )
    return Outgoing(text=render.telegram_text(item), reply_to=item.reply_to, buttons=buttons)


def _slack(item: store.Claimed) -> Outgoing:
    body = render.slack_body(item)
    return Outgoing(text=str(body["text"]), body=body)


def _email(item: store.Claimed) -> Outgoing:
    return Outgoing(
        text=render.plain_text(item),
        subject=render.email_subject(item),
        body={"html": render.email_html(item)},
    )


def _telegram_digest(digest: store.Digest) -> Outgoing:
    return Outgoing(text=render.telegram_digest_text(digest))


def _slack_digest(digest: store.Digest) -> Outgoing:
    body = render.slack_digest_body(digest)
    return Outgoing(text=str(body["text"]), body=body)


def _email_digest(digest: store.Digest) -> Outgoing:
    text = render.html.unescape(render.telegram_digest_text(digest))
    return Outgoing(
        text=text.replace("<b>", "").replace("</b>", "").replace("<i>", "").replace("</i>", ""),
        subject=f"[digest] {digest.folded} alerts folded",
    )


# Channel kind (the target's name up to its first "_") -> how a message looks there.
RENDERERS: dict[str, Callable[[store.Claimed], Outgoing]] = {
    "telegram": _telegram,
    "slack": _slack,
    "email": _email,
}
DIGEST_RENDERERS: dict[str, Callable[[store.Digest], Outgoing]] = {
    "telegram": _telegram_digest,
    "slack": _slack_digest,
    "email": _email_digest,
}


def kind_of(target: str) -> str:
    return target.split("_", 1)[0]


def build_channels(settings: Settings) -> dict[str, Channel]:
    slack = settings.slack

    def secret(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value else None

    return {
        "telegram": TelegramChannel(settings.telegram),
        "slack_critical": SlackChannel(
            "slack_critical", secret(slack.webhook_url_critical), slack.timeout_seconds
        ),
        "slack_alerts": SlackChannel(
            "slack_alerts", secret(slack.webhook_url_alerts), slack.timeout_seconds
        ),
        "email": EmailChannel(settings.email),
    }


def backoff_seconds(attempt: int, settings: DispatcherSettings, rng: random.Random) -> float:
    """Exponential backoff with full jitter on the upper half: base·2^(n-1), capped."""
    ceiling = min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2 ** (attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Dispatcher:
    def __init__(
        self,
        dsn: str,
        settings: DispatcherSettings,
        channels: Mapping[str, Channel],
        *,
        rng: random.Random | None = None,
        daily_summary_at: str | None = None,
        deadman: DeadMansSwitch | None = None,
    ) -> None:
        self._dsn = dsn
        # "HH:MM" UTC after which the previous day's summary is mailed; None: never.
        self._summary_at = daily_summary_at
        self._summary_checked: date | None = None
        self._next_sweep = 0.0
        self._deadman = deadman
        self._next_deadman = 0.0
        self._name = f"dispatcher:{socket.gethostname()}:{os.getpid()}"
        self._next_heartbeat = 0.0
        self._settings = settings
        self._channels = channels
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        # Written to by stop(): wakes the LISTEN wait at once instead of at its timeout.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._work: psycopg2.extensions.connection | None = None
        self._listener: psycopg2.extensions.connection | None = None

    def stop(self, *_: object) -> None:
        self._stop.set()
        with contextlib.suppress(BlockingIOError):  # a full pipe wakes the loop all the same
            os.write(self._wake_write, b"x")

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> None:
        self._close_connections()
        self._work = store.connect(self._dsn)
        self._listener = store.connect(self._dsn)
        store.listen(self._listener)

    def _close_connections(self) -> None:
        for conn in (self._work, self._listener):
            if conn is not None and not conn.closed:
                conn.close()
        self._work = self._listener = None

    # -- one delivery -----------------------------------------------------------------------

    def _deliver(self, item: store.Claimed) -> None:
        assert self._work is not None
        channel = self._channels.get(item.target)
        started = time.monotonic()

        def elapsed_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        if channel is None:
            store.record_final(
                self._work, item.id, "failed", f"no channel named {item.target!r}", 0
            )
            log.error("notification %s: no channel named %r", item.id, item.target)
            return
        priority = item.priority
        allowed = self._settings.rate_limit_per_window - (
            0 if priority == 0 else self._settings.p0_reserve
        )
        slot, frees_in = store.reserve_send(
            self._work,
            item.target,
            allowed=allowed,
            window_seconds=self._settings.rate_window_seconds,
        )
        if slot is None:
            if priority == 0:  # a P0 is never folded: it takes the next free slot
                store.postpone(self._work, item.id, frees_in)
            else:
                store.fold(self._work, item.id)
                log.info(
                    "notification %s folded into the next %s digest (over budget)",
                    item.id,
                    item.target,
                )
            return
        outgoing = RENDERERS[kind_of(item.target)](item)
        started = time.monotonic()  # the attempt's duration is the channel's, not the queue's
        try:
            message_id = channel.send(outgoing)
        except DeliveryError as exc:
            store.release_send(self._work, slot)
            self._failed(item, exc, elapsed_ms())
        else:
            store.record_sent(self._work, item.id, message_id, elapsed_ms())
            log.info(
                "notification %s sent: %s %s [%s] %s -> %s",
                item.id,
                item.kind,
                item.alertname,
                item.severity,
                item.target,
                message_id,
            )

    def _failed(self, item: store.Claimed, exc: DeliveryError, duration_ms: int) -> None:
        assert self._work is not None
        if isinstance(exc, NotConfigured):
            store.record_final(self._work, item.id, "unsent", str(exc), duration_ms)
            log.warning(
                "notification %s not sent (%s); message follows:\n%s",
                item.id,
                exc,
                render.plain_text(item),
            )
        elif isinstance(exc, TransientError) and item.attempts <= self._settings.max_retries:
            delay = backoff_seconds(item.attempts, self._settings, self._rng)
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            store.record_retry(self._work, item.id, str(exc), delay, duration_ms)
            log.warning(
                "notification %s attempt %s failed, retry in %.1fs: %s",
                item.id,
                item.attempts,
                delay,
                exc,
            )
        else:
            store.record_final(self._work, item.id, "failed", str(exc), duration_ms)
            log.error("notification %s failed after %s attempt(s): %s", item.id, item.attempts, exc)

    def _send_digests(self) -> None:
        """For each destination with folded notifications, send one digest if the budget allows."""
        assert self._work is not None
        for target in store.targets_with_folded(self._work):
            channel = self._channels.get(target)
            if channel is None:
                continue
            slot, _ = store.reserve_send(
                self._work,
                target,
                allowed=self._settings.rate_limit_per_window - self._settings.p0_reserve,
                window_seconds=self._settings.rate_window_seconds,
            )
            if slot is None:
                continue
            digest = store.start_digest(self._work, target)
            if digest is None:
                store.release_send(self._work, slot)
                continue
            try:
                message_id = channel.send(DIGEST_RENDERERS[kind_of(target)](digest))
            except DeliveryError as exc:
                store.release_send(self._work, slot)
                store.fail_digest(self._work, digest.id, str(exc))
                log.warning(
                    "digest %s for %s not sent, its alerts go into the next: %s",
                    digest.id,
                    target,
                    exc,
                )
            else:
                store.finish_digest(self._work, digest.id, message_id)
                log.info(
                    "digest %s sent to %s: %s folded notifications",
                    digest.id,
                    target,
                    digest.folded,
                )

    # -- the loop ---------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and deliver one batch; return how many were claimed."""
        assert self._work is not None
        batch = store.claim(
            self._work, limit=self._settings.batch_size, lease_seconds=self._settings.lease_seconds
        )
        if not any(item.priority == 0 for item in batch):  # a P0 goes before any digest
            self._send_digests()
        for item in batch:
            if self._stop.is_set():
                break  # unsent claims return to the queue when their lease ends
            try:
                self._deliver(item)
            except store.UNAVAILABLE:
                raise
            except Exception as exc:  # a bug must not stop delivery of everything else
                log.exception("notification %s: unexpected error", item.id)
                store.record_final(self._work, item.id, "failed", f"internal error: {exc!r}", 0)
        return len(batch)

    def send_daily_summary(self, day: date) -> str:
        """Mail ``day``'s summary report unless another dispatcher did; return the outcome."""
        assert self._work is not None
        if not store.claim_daily_summary(self._work, day):
            return "already sent"
        channel = self._channels.get("email")
        try:
            if channel is None:
                raise NotConfigured("email: no email channel")
            channel.send(summary.render(store.day_summary(self._work, day)))
        except NotConfigured as exc:
            store.finish_daily_summary(self._work, day, "unsent", str(exc))
            return f"unsent: {exc}"
        except DeliveryError as exc:
            store.finish_daily_summary(self._work, day, "failed", str(exc))
            log.error("daily summary for %s not sent: %s", day, exc)
            return f"failed: {exc}"
        store.finish_daily_summary(self._work, day, "sent")
        log.info("daily summary for %s sent", day)
        return "sent"

    def send_once(self, action: Callable[[], str]) -> str:
        """Run ``action`` with this dispatcher's connections open (for one-off commands)."""
        self._connect()
        try:
            return action()
        finally:
            self._close_connections()
            for channel in self._channels.values():
                channel.close()

    def _heartbeat_if_due(self) -> None:
        """Show this dispatcher is alive; check the Watchdog's arrivals (dead man's switch)."""
        assert self._work is not None
        now = time.monotonic()
        if now >= self._next_heartbeat:
            store.touch_dispatcher(self._work, self._name)
            self._next_heartbeat = now + 5.0
        if self._deadman is not None and now >= self._next_deadman:
            self._next_deadman = now + self._deadman.interval
            self._deadman.check(self._work)

    def _sweep_if_due(self) -> None:
        assert self._work is not None
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(60.0, self._settings.sweep_after_seconds / 2)
        swept = store.sweep_failed(
            self._work,
            after_seconds=self._settings.sweep_after_seconds,
            max_sweeps=self._settings.max_sweeps,
            max_age_hours=self._settings.sweep_max_age_hours,
        )
        if swept:
            log.info("%s failed notification(s) queued again", swept)

    def _daily_summary_if_due(self) -> None:
        if self._summary_at is None:
            return
        now = datetime.now(UTC)
        hour, minute = (int(part) for part in self._summary_at.split(":"))
        day = summary.previous_day(now.date())
        if (now.hour, now.minute) < (hour, minute) or self._summary_checked == day:
            return
        self.send_daily_summary(day)
        self._summary_checked = day

    def _wait_for_work(self) -> None:
        assert self._work is not None and self._listener is not None
        due = store.seconds_until_due(self._work)
        timeout = (
            self._settings.idle_wake_seconds
            if due is None
            else min(due, self._settings.idle_wake_seconds)
        )
        if store.targets_with_folded(self._work):  # a digest is waiting for a free slot
            timeout = min(timeout, 1.0)
        if timeout <= 0:
            return
        waitables: list[Any] = [self._listener, self._wake_read]
        ready, _, _ = select.select(waitables, [], [], timeout)
        if self._listener in ready:
            self._listener.poll()
            self._listener.notifies.clear()

    def run(self) -> None:
        log.info("dispatcher started")
        while not self._stop.is_set():
            try:
                if self._work is None:
                    self._connect()
                self._daily_summary_if_due()
                self._sweep_if_due()
                self._heartbeat_if_due()
                if self.run_once() == 0:
                    self._wait_for_work()
            except store.UNAVAILABLE as exc:
                log.warning("database unavailable (%s); retrying in 1s", str(exc).strip())
                self._close_connections()
                self._stop.wait(1.0)
        self._close_connections()
        for channel in self._channels.values():
            channel.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
        log.info("dispatcher stopped")


def main(settings: Settings) -> int:
    dispatcher = Dispatcher(
        settings.dsn,
        settings.dispatcher,
        build_channels(settings),
        daily_summary_at=settings.email.daily_summary_at,
        deadman=DeadMansSwitch(settings),
    )

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        dispatcher.stop()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    poller = None
    if settings.telegram.configured and settings.telegram.buttons:
        from receiver.telegram_updates import UpdatePoller

        poller = UpdatePoller(settings)
        poller.start()
    dispatcher.run()
    if poller is not None:
        poller.stop(timeout=1)
    return 0
