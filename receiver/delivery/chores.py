"""Timed chores the dispatcher runs between deliveries: its heartbeat, the escalation timers
(reminders, escalations, expired acknowledgements), the mutes (a muted alert's resolve, its
silence expired), the dead man's switch, the sweep of permanently failed notifications, the
daily summary (retried until sent), and the coming months' partitions of the history.

Each chore has its own period and runs when due; one that raises is logged and tried again at
its next period, so no chore can stop delivery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime

from receiver.channels.base import Channel, DeliveryError, NotConfigured
from receiver.config import Settings
from receiver.delivery import daily_summary
from receiver.delivery.deadman import DeadMansSwitch
from receiver.delivery.mutes import MuteWatch
from receiver.store import db, escalation, health, outbox, partitions, reports

log = logging.getLogger("d76.dispatcher")

SUMMARY_RETRY_SECONDS = 300.0  # a failed daily summary is tried again 5 minutes later


def send_daily_summary(
    conn: db.Connection, channels: Mapping[str, Channel], day: date, *, force: bool = False
) -> str:
    """Mail ``day``'s summary report unless another dispatcher did (or is doing it, or a
    failed try is waiting for its retry, unless ``force``); return the outcome."""
    if not reports.claim_daily_summary(conn, day, force=force):
        return "already sent (or being sent)"
    channel = channels.get("email")
    try:
        if channel is None:
            raise NotConfigured("email: no email channel")
        channel.send(daily_summary.render(reports.day_summary(conn, day)))
    except NotConfigured as exc:
        reports.finish_daily_summary(conn, day, "unsent", str(exc))
        return f"unsent: {exc}"
    except DeliveryError as exc:
        reports.finish_daily_summary(
            conn, day, "failed", str(exc), retry_in_seconds=SUMMARY_RETRY_SECONDS
        )
        log.error("daily summary for %s not sent (tried again in 5 min): %s", day, exc)
        return f"failed: {exc}"
    reports.finish_daily_summary(conn, day, "sent")
    log.info("daily summary for %s sent", day)
    return "sent"


class Chores:
    def __init__(
        self,
        name: str,
        settings: Settings,
        channels: Mapping[str, Channel],
        deadman: DeadMansSwitch | None = None,
        mute: MuteWatch | None = None,
    ) -> None:
        self._channels = channels
        dispatcher = settings.dispatcher
        summary_at = settings.email.daily_summary_at
        self._chores: list[tuple[str, float, Callable[[db.Connection], object]]] = [
            ("heartbeat", 5.0, lambda conn: health.touch_dispatcher(conn, name)),
            (
                "escalation",
                settings.escalation.check_seconds,
                lambda conn: self._escalate(conn, settings),
            ),
            (
                "sweep",
                min(60.0, dispatcher.sweep_after_seconds / 2),
                lambda conn: self._sweep(conn, settings),
            ),
            (  # the coming months' partitions exist before their first alert (cheap when so)
                "partitions",
                3600.0,
                lambda conn: partitions.ensure(conn, settings.api.partitions_ahead_months),
            ),
        ]
        if mute is not None:
            self._chores.append(("mute", settings.mute.check_seconds, mute.check))
        if deadman is not None:
            self._chores.append(("dead man's switch", deadman.interval, deadman.check))
        if summary_at is not None:
            hour, minute = (int(part) for part in summary_at.split(":"))
            self._chores.append(
                ("daily summary", 60.0, lambda conn: self._summary(conn, hour, minute))
            )
        self._next = {label: 0.0 for label, _, _ in self._chores}

    @staticmethod
    def _sweep(conn: db.Connection, settings: Settings) -> None:
        d = settings.dispatcher
        swept = outbox.sweep_failed(
            conn,
            after_seconds=d.sweep_after_seconds,
            max_sweeps=d.max_sweeps,
            max_age_hours=d.sweep_max_age_hours,
        )
        if swept:
            log.info("%s failed notification(s) queued again", swept)

    @staticmethod
    def _escalate(conn: db.Connection, settings: Settings) -> None:
        """Take the due escalation steps, a bounded batch at a time (the rest next period)."""
        retry_for = settings.dispatcher.retry_for_hours * 3600
        for _ in range(10):
            done = escalation.advance_due(conn, retry_for_seconds=retry_for, limit=100)
            if done.timers:
                log.info(
                    "escalation: %s reminder(s), %s escalation(s), %s expired ack(s) queued",
                    done.reminders, done.escalations, done.ack_expiries,
                )  # fmt: skip
            if done.timers < 100:
                return

    def _summary(self, conn: db.Connection, hour: int, minute: int) -> None:
        now = datetime.now(UTC)
        if (now.hour, now.minute) >= (hour, minute):
            send_daily_summary(conn, self._channels, daily_summary.previous_day(now.date()))

    def seconds_until_due(self) -> float:
        return max(0.0, min(self._next.values(), default=60.0) - time.monotonic())

    def run_due(self, conn: db.Connection) -> None:
        for label, period, chore in self._chores:
            now = time.monotonic()
            if now < self._next[label]:
                continue
            self._next[label] = now + period
            try:
                chore(conn)
            except db.UNAVAILABLE:
                raise
            except Exception:
                log.exception("%s failed; tried again in %.0fs", label, period)
                if not conn.closed:
                    conn.rollback()
