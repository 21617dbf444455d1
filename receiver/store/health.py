"""Signs of life: the Watchdog's arrivals and each dispatcher's heartbeat."""

from __future__ import annotations

from datetime import datetime

from receiver.store.db import Connection


def watchdog_state(conn: Connection) -> tuple[datetime, str] | None:
    """When the Watchdog last arrived and whether it was firing; None if it never came."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT last_seen, status FROM heartbeat WHERE name = 'watchdog'")
        row = cur.fetchone()
    return (row[0], row[1]) if row else None


def touch_dispatcher(conn: Connection, name: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO heartbeat (name, last_seen) VALUES (%s, now())
               ON CONFLICT (name) DO UPDATE SET last_seen = now()""",
            (name,),
        )


def firing_occurrence(
    conn: Connection, alertname: str
) -> tuple[datetime, dict[str, str], dict[str, str]] | None:
    """The firing occurrence of ``alertname`` (start, labels, annotations), if any."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT starts_at, labels, annotations FROM alert_history "
            "WHERE alertname = %s AND status = 'firing' ORDER BY starts_at DESC LIMIT 1",
            (alertname,),
        )
        row = cur.fetchone()
    return (row[0], row[1], row[2]) if row else None
