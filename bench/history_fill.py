"""The big-history benchmark's rows, generated in SQL (generate_series): alerts spread over the
last year, each with a delivered notification and its attempt, into the partitioned tables."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from receiver.store import partitions

SPAN_SECONDS = 365 * 86400
# One chunk of generated history: rows i in [lo, hi), spread over the last year in a fixed
# pseudo-random order (7919 is prime), so every stage adds rows to every month, and written in
# time order, as ingest writes them (rows of one day side by side, not one a page).
FILL = """
INSERT INTO alert_history (timestamp, severity, source, title, message, fingerprint, alertname,
                           status, starts_at, ends_at, labels, annotations, acknowledged,
                           acknowledged_at, receiver)
SELECT t, sev, src, 'Alert ' || name, 'generated', md5(i::text), name,
       CASE WHEN i %% 3 = 0 THEN 'resolved' ELSE 'firing' END, t,
       CASE WHEN i %% 3 = 0 THEN t + interval '5 minutes' END,
       jsonb_build_object('alertname', name, 'severity', sev, 'exchange',
                          (ARRAY['Upbit','Binance','Bithumb','OKX'])[1 + i %% 4]),
       '{}'::jsonb, i %% 5 = 0, CASE WHEN i %% 5 = 0 THEN t + interval '2 minutes' END, 'd76-p2'
  FROM (SELECT i,
               %(now)s::timestamptz - ((i::bigint * 7919) %% %(span)s) * interval '1 second' AS t,
               (ARRAY['P0','P1','P2','P2','P3','P3','P3','P3'])[1 + i %% 8] AS sev,
               (ARRAY['RateLimiter','HealthMonitor','ArbRoute','CrossSync','RiskGuard'])
                   [1 + i %% 5] AS src,
               'Rule' || (i %% 40) AS name
          FROM generate_series(%(lo)s, %(hi)s - 1) AS i) g
 ORDER BY t
"""
FILL_OUTBOX = """
INSERT INTO notification (alert_id, alert_ts, kind, target, priority, state, attempts,
                          created_at, sent_at, message_id, fingerprint)
SELECT id, timestamp, 'firing', 'telegram', 2, 'sent', 1, timestamp,
       timestamp + interval '1 second', id::text, fingerprint
  FROM alert_history WHERE id > %(after)s;
INSERT INTO notification_attempt (notification_id, alert_ts, attempted_at, outcome, duration_ms,
                                  message_id)
SELECT id, alert_ts, sent_at, 'sent', 150, message_id FROM notification WHERE id > %(after_n)s
"""
CHUNK = 1_000_000


def scalar(conn: Any, sql: str) -> int:
    with conn, conn.cursor() as cur:
        cur.execute(sql)
        (value,) = cur.fetchone() or (0,)
    return int(value or 0)


def months(conn: Any, now: datetime) -> None:
    """Partitions for every month of the year generated (a dropped one made again)."""
    start = (now - timedelta(seconds=SPAN_SECONDS)).date()
    partitions.ensure(conn, 14, today=start)


def fill(conn: Any, have: int, want: int, now: datetime) -> float:
    """Grow the history from ``have`` to ``want`` alerts; return the seconds it took."""
    started = time.perf_counter()
    months(conn, now)
    for lo in range(have + 1, want + 1, CHUNK):
        hi = min(lo + CHUNK, want + 1)
        after = scalar(conn, "SELECT COALESCE(max(id), 0) FROM alert_history")
        after_n = scalar(conn, "SELECT COALESCE(max(id), 0) FROM notification")
        with conn, conn.cursor() as cur:
            cur.execute(FILL, {"now": now, "span": SPAN_SECONDS, "lo": lo, "hi": hi})
            cur.execute(FILL_OUTBOX, {"after": after, "after_n": after_n})
    with conn, conn.cursor() as cur:
        for table in ("alert_history", "notification", "notification_attempt"):
            cur.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def fill_month(conn: Any, month: date, alerts: int) -> None:
    """``alerts`` alerts (with their outbox rows) in ``month``, its partitions made first."""
    partitions.ensure(conn, 0, today=month)
    after = scalar(conn, "SELECT COALESCE(max(id), 0) FROM alert_history")
    after_n = scalar(conn, "SELECT COALESCE(max(id), 0) FROM notification")
    first = datetime(month.year, month.month, 1, tzinfo=UTC)
    with conn, conn.cursor() as cur:
        # the month's first 28 days, whatever the row's i: the span ends 28 days in
        cur.execute(
            FILL,
            {
                "now": first + timedelta(days=28),
                "span": 28 * 86400,
                "lo": 10**10,  # fingerprints of their own
                "hi": 10**10 + alerts,
            },
        )
        cur.execute(FILL_OUTBOX, {"after": after, "after_n": after_n})
        # as autovacuum has analysed an old month: prune reads its statistics, not its rows
        for table in ("alert_history", "notification", "notification_attempt"):
            cur.execute(f"ANALYZE {table}_p{month:%Y_%m}")
