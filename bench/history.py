"""History queries over 1,000,000 alerts: a 24 h time-range + severity query (first page)
and a 24 h statistics query, through the same code as the API.

    .venv/bin/python -m bench.history [--rows 1000000] [--runs 50]

Goal: p95 <= 50 ms for the query.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.common import postgres
from receiver import query_params, store

FILL = """
INSERT INTO alert_history (timestamp, severity, source, title, message, fingerprint, alertname,
                           status, starts_at, ends_at, labels, annotations, acknowledged,
                           acknowledged_at)
SELECT t, sev, src, 'Alert ' || name, 'generated', md5(i::text), name,
       CASE WHEN i %% 3 = 0 THEN 'resolved' ELSE 'firing' END, t,
       CASE WHEN i %% 3 = 0 THEN t + interval '5 minutes' END,
       jsonb_build_object('alertname', name, 'severity', sev, 'exchange',
                          (ARRAY['Upbit','Binance','Bithumb','OKX'])[1 + i %% 4]),
       '{}'::jsonb, i %% 5 = 0, CASE WHEN i %% 5 = 0 THEN t + interval '2 minutes' END
  FROM (SELECT i,
               now() - (i::bigint * %(span)s / %(rows)s) * interval '1 second' AS t,
               (ARRAY['P0','P1','P2','P2','P3','P3','P3','P3'])[1 + i %% 8] AS sev,
               (ARRAY['RateLimiter','HealthMonitor','ArbRoute','CrossSync','RiskGuard'])
                   [1 + i %% 5] AS src,
               'Rule' || (i %% 40) AS name
          FROM generate_series(1, %(rows)s) AS i) g
"""


def timed(fn: object, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with postgres() as dsn:
        conn = store.connect(dsn)
        started = time.perf_counter()
        with conn, conn.cursor() as cur:
            # one year of history, evenly spread
            cur.execute(FILL, {"rows": args.rows, "span": 365 * 86400})
            cur.execute("ANALYZE alert_history")
        print(f"filled {args.rows:,} alerts over 365 days in {time.perf_counter() - started:.0f}s")
        now = datetime.now(UTC)
        day = query_params.HistoryFilter(
            start=now - timedelta(hours=24), end=now, severities=("P0", "P1")
        )
        p50, p95 = timed(lambda: store.list_alerts(conn, day, 50, None), args.runs)
        print(f"24 h + severity P0,P1, first page of 50: p50 {p50:.1f} ms  p95 {p95:.1f} ms")
        all_day = query_params.HistoryFilter(start=now - timedelta(hours=24), end=now)
        p50, p95 = timed(lambda: store.stats(conn, all_day, "hour"), args.runs)
        print(f"24 h statistics (hourly buckets):       p50 {p50:.1f} ms  p95 {p95:.1f} ms")
        week = query_params.HistoryFilter(
            start=now - timedelta(days=7), end=now, labels={"exchange": "Upbit"}, severities=("P0",)
        )
        p50, p95 = timed(lambda: store.list_alerts(conn, week, 50, None), args.runs)
        print(f"7 d + label exchange:Upbit + P0, page:  p50 {p50:.1f} ms  p95 {p95:.1f} ms")
        conn.close()


if __name__ == "__main__":
    main()
