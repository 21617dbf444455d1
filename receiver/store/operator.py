"""What the chat commands read: the alerts firing now, and the pipeline's state for /status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from receiver.store.db import Connection


@dataclass(frozen=True, slots=True)
class Firing:
    id: int
    severity: str
    title: str
    alertname: str
    starts_at: datetime
    acknowledged_by: str | None
    silenced: bool  # its escalation timer is paused by a silence or a mute


def firing_now(conn: Connection, limit: int) -> tuple[list[Firing], int]:
    """The newest firing alerts, most urgent first (at most ``limit``), and how many fire."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT a.id, a.severity, a.title, a.alertname, a.starts_at, a.acknowledged_by,
                      COALESCE(e.state = 'silenced', FALSE)
                 FROM alert_history a LEFT JOIN escalation e ON e.alert_id = a.id
                WHERE a.status = 'firing' AND a.alertname <> 'Watchdog'
                ORDER BY a.severity, a.starts_at DESC, a.id DESC LIMIT %s""",
            (limit,),
        )
        rows = [Firing(*row) for row in cur.fetchall()]
        cur.execute(
            "SELECT count(*) FROM alert_history WHERE status = 'firing' AND alertname <> 'Watchdog'"
        )
        (total,) = cur.fetchone() or (0,)
    return rows, int(total)


@dataclass(frozen=True, slots=True)
class Status:
    dispatchers_alive: int
    oldest_undelivered_seconds: float | None
    watchdog_seconds: float | None  # since the Watchdog last arrived (None: never)
    watchdog_status: str | None


def status(conn: Connection) -> Status:
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT count(*) FILTER (WHERE name LIKE 'dispatcher:%%'
                                        AND last_seen > now() - interval '30 seconds'),
                      EXTRACT(EPOCH FROM now() - max(last_seen)
                                             FILTER (WHERE name = 'watchdog')),
                      max(status) FILTER (WHERE name = 'watchdog')
                 FROM heartbeat"""
        )
        alive, watchdog, watchdog_status = cur.fetchone() or (0, None, None)
        cur.execute(
            "SELECT EXTRACT(EPOCH FROM now() - min(created_at)) FROM notification "
            "WHERE state IN ('queued', 'sending')"
        )
        (oldest,) = cur.fetchone() or (None,)
    return Status(
        int(alive),
        None if oldest is None else float(oldest),
        None if watchdog is None else float(watchdog),
        watchdog_status,
    )
