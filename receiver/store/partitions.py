"""Monthly partitions of the history and its outbox: made ahead, dropped for retention.

``alert_history`` is partitioned by its timestamp, and ``notification``,
``notification_attempt`` and ``alert_action`` by their alert's (``alert_ts``), so an alert and
everything about it share a month (migration 0011). Partitions are named ``<table>_pYYYY_MM``;
``<table>_default`` takes what falls outside them.

``ensure`` makes the months from this one to ``months_ahead`` ahead (at migrate, and hourly by
the dispatcher's chores); ``prune`` drops every month that ended before the retention cut-off,
in the four tables, then deletes what is older still in the month that straddles it and in the
default partitions. Both wait at most ``LOCK_TIMEOUT`` for the lock on a parent table (a long
history query holds it): past it they give up, and the next run does it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from receiver.store.db import Connection

# Parents and their partition keys; children first, so a drop never leaves a message whose
# alert is gone.
TABLES = (
    ("notification_attempt", "alert_ts"),
    ("alert_action", "alert_ts"),
    ("notification", "alert_ts"),
    ("alert_history", "timestamp"),
)
# Tables kept beside the partitions, by their alert's timestamp: deleted with its month.
BESIDE = (("alert_graph", "alert_ts"),)
MONTHS_AHEAD = 3  # made at migrate; the dispatcher keeps api.partitions_ahead_months
LOCK_TIMEOUT = "2s"
_MONTH = re.compile(r"_p(\d{4})_(\d{2})$")


def _month(day: date) -> date:
    return day.replace(day=1)


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def ensure(conn: Connection, months_ahead: int = MONTHS_AHEAD, *, today: date | None = None) -> int:
    """Make the partitions of this month and the next ``months_ahead`` (where missing);
    return how many tables were made."""
    first = _month(today or datetime.now(UTC).date())
    with conn, conn.cursor() as cur:
        cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cur.execute(
            "SELECT d76_ensure_partitions(%s, %s)", (first, _add_months(first, months_ahead))
        )
        (made,) = cur.fetchone() or (0,)
    return int(made)


@dataclass(frozen=True, slots=True)
class Pruned:
    alerts: int  # alerts that went: deleted, and estimated in the months dropped
    months: int  # months dropped whole


def months_of(conn: Connection, table: str) -> list[date]:
    """The months ``table`` has a partition for, oldest first."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = %s::regclass""",
            (table,),
        )
        names = [name for (name,) in cur.fetchall()]
    months = []
    for name in names:
        match = _MONTH.search(name)
        if match and name == f"{table}_p{match.group(1)}_{match.group(2)}":
            months.append(date(int(match.group(1)), int(match.group(2)), 1))
    return sorted(months)


def drop_month(conn: Connection, month: date) -> int:
    """Drop ``month``'s partition of the four tables, children first; return how many alerts
    it held, as PostgreSQL's statistics count them (an exact count would read the month: over
    a second for a month of 1.7 M alerts, where the drop itself takes milliseconds)."""
    suffix = f"_p{month:%Y_%m}"
    with conn, conn.cursor() as cur:
        cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cur.execute(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)",
            (f"alert_history{suffix}",),
        )
        (estimate,) = cur.fetchone() or (0,)
        count = int(estimate)
        if count < 0:  # never analysed (a young, small month): count it
            cur.execute(f'SELECT count(*) FROM "alert_history{suffix}"')
            (count,) = cur.fetchone() or (0,)
        for table, _ in TABLES:
            cur.execute(f'DROP TABLE IF EXISTS "{table}{suffix}"')
        for table, key in BESIDE:
            cur.execute(  # the partitions' own bounds: midnight UTC, whatever the session's zone
                f"DELETE FROM {table} WHERE {key} >= %s AND {key} < %s",
                (_utc(month), _utc(_add_months(month, 1))),
            )
    return int(count)


def prune(conn: Connection, keep_days: int) -> Pruned:
    """Remove alerts that started over ``keep_days`` ago, with their notifications, attempts
    and actions: whole months dropped, the rest deleted."""
    cutoff = datetime.now(UTC) - timedelta(days=keep_days)
    gone = months = 0
    for month in months_of(conn, "alert_history"):
        if _add_months(month, 1) > cutoff.date():
            break  # this month ends after the cut-off: its older rows are deleted below
        gone += drop_month(conn, month)
        months += 1
    with conn, conn.cursor() as cur:
        for table, key in BESIDE + TABLES:
            cur.execute(f"DELETE FROM {table} WHERE {key} < %s", (cutoff,))
        gone += int(cur.rowcount)  # the last statement is alert_history's
    return Pruned(alerts=gone, months=months)
