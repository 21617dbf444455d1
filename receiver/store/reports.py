"""The daily summary report: what it says, and which dispatcher sends it (once, retried)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from receiver.store.db import Connection


@dataclass(frozen=True, slots=True)
class DaySummary:
    day: date
    total: int
    by_severity: list[tuple[str, int]]
    by_source: list[tuple[str, int]]
    noisiest: list[tuple[str, str, int]]  # alertname, severity, occurrences
    urgent: list[dict[str, Any]]  # P0/P1 occurrences with seconds to ack and to resolve
    rows: list[tuple[Any, ...]]  # every alert of the day, for the CSV attachment
    columns: tuple[str, ...]


_SUMMARY_COLUMNS = (
    "id",
    "timestamp",
    "severity",
    "source",
    "alertname",
    "title",
    "status",
    "ends_at",
    "acknowledged",
    "acknowledged_at",
    "acknowledged_by",
    "labels",
)


def day_summary(conn: Connection, day: date) -> DaySummary:
    """Everything the daily report says about the alerts that started on ``day`` (UTC)."""
    window = {"start": datetime.combine(day, datetime.min.time(), tzinfo=UTC)}
    window["end"] = window["start"] + timedelta(days=1)
    where = "timestamp >= %(start)s AND timestamp < %(end)s"
    with conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT severity, count(*) FROM alert_history WHERE {where} GROUP BY 1 ORDER BY 1",
            window,
        )
        by_severity = [(s, n) for s, n in cur.fetchall()]
        cur.execute(
            f"SELECT source, count(*) FROM alert_history WHERE {where} "
            "GROUP BY 1 ORDER BY 2 DESC, 1",
            window,
        )
        by_source = [(s, n) for s, n in cur.fetchall()]
        cur.execute(
            f"SELECT alertname, severity, count(*) FROM alert_history WHERE {where} "
            "GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10",
            window,
        )
        noisiest = [(a, s, n) for a, s, n in cur.fetchall()]
        cur.execute(
            f"""SELECT id, timestamp, severity, alertname, title, status,
                       EXTRACT(EPOCH FROM acknowledged_at - starts_at),
                       EXTRACT(EPOCH FROM ends_at - starts_at)
                  FROM alert_history WHERE {where} AND severity IN ('P0', 'P1')
                 ORDER BY timestamp, id""",
            window,
        )
        urgent = [
            {
                "id": i,
                "timestamp": t,
                "severity": s,
                "alertname": a,
                "title": ti,
                "status": st,
                "ack_seconds": None if ack is None else float(ack),
                "resolve_seconds": None if res is None else float(res),
            }
            for i, t, s, a, ti, st, ack, res in cur.fetchall()
        ]
        cur.execute(
            f"SELECT {', '.join(_SUMMARY_COLUMNS)} FROM alert_history WHERE {where} "
            "ORDER BY timestamp, id",
            window,
        )
        rows = cur.fetchall()
    return DaySummary(
        day, len(rows), by_severity, by_source, noisiest, urgent, rows, _SUMMARY_COLUMNS
    )


def claim_daily_summary(
    conn: Connection, day: date, *, lease_seconds: float = 300, force: bool = False
) -> bool:
    """True for the one caller that gets to send ``day``'s summary now: the first, or the next
    after a failed try whose backoff has passed (at once if ``force``: the operator's command),
    or after a sender that died mid-way."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO daily_summary (day, state, attempts) VALUES (%(day)s, 'sending', 1)
               ON CONFLICT (day) DO UPDATE
                  SET state = 'sending', attempts = daily_summary.attempts + 1,
                      started_at = d76_now(), finished_at = NULL
                WHERE (daily_summary.state = 'failed'
                       AND (daily_summary.next_attempt_at <= d76_now() OR %(force)s))
                   OR (daily_summary.state = 'sending'
                       AND daily_summary.started_at
                           < d76_now() - make_interval(secs => %(lease)s))
               RETURNING day""",
            {"day": day, "lease": lease_seconds, "force": force},
        )
        return cur.fetchone() is not None


def finish_daily_summary(
    conn: Connection,
    day: date,
    state: str,
    error: str | None = None,
    *,
    retry_in_seconds: float = 0,
) -> None:
    """Record the outcome; a ``failed`` summary is tried again after ``retry_in_seconds``."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE daily_summary SET state = %s, finished_at = d76_now(), error = %s,
                      next_attempt_at = d76_now() + make_interval(secs => %s)
                WHERE day = %s""",
            (state, error, retry_in_seconds, day),
        )
