"""Maintenance windows as the history sees them: an alert that fired inside one is marked
(``metadata.maintenance``: the window's name). Windows come from config/maintenance.yml
(``d76maintenance``) and from the /maintenance chat command (``maintenance_window``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg2.extensions

from d76maintenance import RECEIVER as MAINTENANCE_RECEIVER
from d76maintenance import Maintenance
from receiver.store.db import Connection
from receiver.webhook_parser import Alert


@dataclass(frozen=True, slots=True)
class ChatWindow:
    name: str
    exchange: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Windows:
    configured: Maintenance | None
    chat: Sequence[ChatWindow] = field(default_factory=tuple)

    def inside(self, alert: Alert, quiet: bool) -> str | None:
        """The window ``alert`` started in (its ``exchange`` label); "maintenance" for one
        that came through the maintenance receiver in a window no longer configured."""
        exchange = alert.labels.get("exchange")
        if exchange is not None:
            if self.configured is not None:
                window = self.configured.inside(exchange, alert.starts_at)
                if window is not None:
                    return window.name
            for chat in self.chat:
                if chat.exchange == exchange and chat.starts_at <= alert.starts_at < chat.ends_at:
                    return chat.name
        return "maintenance" if quiet else None


def windows_for(cur: psycopg2.extensions.cursor, alerts: Sequence[Alert]) -> list[ChatWindow]:
    """The chat windows that may hold one of ``alerts`` (by exchange and start)."""
    exchanges = sorted({a.labels["exchange"] for a in alerts if "exchange" in a.labels})
    if not exchanges:
        return []
    starts = [a.starts_at for a in alerts]
    cur.execute(
        """SELECT name, exchange, starts_at, ends_at FROM maintenance_window
            WHERE exchange = ANY(%s) AND starts_at <= %s AND ends_at > %s
            ORDER BY id LIMIT 100""",
        (exchanges, max(starts), min(starts)),
    )
    return [ChatWindow(*row) for row in cur.fetchall()]


def record_window(
    conn: Connection, exchange: str, ends_at: datetime, reason: str, actor: str, silence_id: str
) -> str:
    """A window opened from the chat (/maintenance), from now until ``ends_at``; its name."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO maintenance_window (name, exchange, starts_at, ends_at, reason,
                                               created_by, silence_id)
               VALUES ('chat-' || lower(%(exchange)s) || '-'
                       || to_char(d76_now(), 'YYYYMMDD-HH24MI'), %(exchange)s, d76_now(),
                       %(ends)s, %(reason)s, %(actor)s, %(silence)s)
               RETURNING name""",
            {"exchange": exchange, "ends": ends_at, "reason": reason, "actor": actor,
             "silence": silence_id},
        )  # fmt: skip
        row = cur.fetchone()
    return str(row[0]) if row else ""


__all__ = ["MAINTENANCE_RECEIVER", "ChatWindow", "Windows", "record_window", "windows_for"]
