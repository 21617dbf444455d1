"""History queries over 1,000,000 alerts: a 24 h time-range + severity query (first page),
a 24 h statistics query and a 7 d label + severity query, through the same code as the API;
each alternates (A B A B ...) with what someone would write by hand against PostgreSQL
instead: the same question as plain SQL (for the statistics: one GROUP BY of the counts,
where the product computes counts by severity, source and rule, times to acknowledge and to
resolve, the noisiest rules and the flapping ones).

    .venv/bin/python -m bench.history [--rows 1000000] [--runs 50]

Goal: p95 <= 50 ms for each query.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Bench, Figure, Row, Stat, command, percentile, postgres, standalone
from receiver import query_params, store
from receiver.store import partitions

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


PAGE = """SELECT * FROM alert_history
 WHERE timestamp >= %(start)s AND timestamp < %(end)s AND severity = ANY(%(severities)s)
 ORDER BY timestamp DESC, id DESC LIMIT 50"""
HOURLY = """SELECT date_trunc('hour', timestamp), severity, count(*) FROM alert_history
 WHERE timestamp >= %(start)s AND timestamp < %(end)s GROUP BY 1, 2"""
LABEL = """SELECT * FROM alert_history
 WHERE timestamp >= %(start)s AND timestamp < %(end)s AND labels @> %(labels)s
   AND severity = ANY(%(severities)s)
 ORDER BY timestamp DESC, id DESC LIMIT 50"""
GOAL_MS = 50.0
FIGURES = {
    key: Figure(key, title, f"p95 ≤ {GOAL_MS:.0f} ms")
    for key, title in (
        ("history_page", "history: 24 h + severity P0,P1, first page of 50"),
        ("history_stats", "history: 24 h statistics, hourly buckets"),
        ("history_label", "history: 7 d + label exchange:Upbit + P0, first page"),
    )
}


def timed_pair(
    ours: Callable[[], object], bare: Callable[[], object], runs: int
) -> tuple[list[float], list[float]]:
    """Milliseconds per call of each, alternating (A B A B ...) after one warm-up call each."""
    ours()
    bare()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, into in ((ours, samples[0]), (bare, samples[1])):
            started = time.perf_counter()
            fn()
            into.append((time.perf_counter() - started) * 1000)
    return samples


def _raw(conn: store.Connection, sql: str, params: dict[str, Any]) -> Callable[[], object]:
    def call() -> object:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    return call


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.history",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    return parser


def run(args: argparse.Namespace) -> list[Row]:
    reproduce = command("bench.history", parser(), args)
    rows = []
    with postgres() as dsn:
        conn = store.connect(dsn)
        try:
            started = time.perf_counter()
            # the year's monthly partitions, as a server that has run a year has them
            partitions.ensure(conn, 13, today=(datetime.now(UTC) - timedelta(days=365)).date())
            with conn, conn.cursor() as cur:
                # one year of history, evenly spread
                cur.execute(FILL, {"rows": args.rows, "span": 365 * 86400})
                cur.execute("ANALYZE alert_history")
            print(
                f"filled {args.rows:,} alerts over 365 days in "
                f"{time.perf_counter() - started:.0f}s; the store's call and the bare SQL "
                f"alternate, {args.runs} runs each\n"
            )
            now = datetime.now(UTC)
            day_start, week_start = now - timedelta(hours=24), now - timedelta(days=7)
            day: dict[str, Any] = {"start": day_start, "end": now}
            week: dict[str, Any] = {"start": week_start, "end": now}
            Filter = query_params.HistoryFilter
            cases: list[tuple[str, Callable[[], object], Callable[[], object], str]] = [
                (
                    "history_page",
                    lambda: store.list_alerts(
                        conn, Filter(day_start, now, severities=("P0", "P1")), 50, None
                    ),
                    _raw(conn, PAGE, {**day, "severities": ["P0", "P1"]}),
                    "the same question as hand-written SQL (SELECT *)",
                ),
                (
                    "history_stats",
                    lambda: store.stats(conn, Filter(day_start, now), "hour"),
                    _raw(conn, HOURLY, day),
                    "one hand-written GROUP BY hour, severity (counts only)",
                ),
                (
                    "history_label",
                    lambda: store.list_alerts(
                        conn,
                        Filter(week_start, now, labels={"exchange": "Upbit"}, severities=("P0",)),
                        50,
                        None,
                    ),
                    _raw(
                        conn,
                        LABEL,
                        {**week, "labels": json.dumps({"exchange": "Upbit"}), "severities": ["P0"]},
                    ),
                    "the same question as hand-written SQL (SELECT *)",
                ),
            ]
            for key, ours, bare, bare_name in cases:
                mine, theirs = timed_pair(ours, bare, args.runs)
                p50, p95 = percentile(mine, 50), percentile(mine, 95)
                print(
                    f"{FIGURES[key].title.removeprefix('history: '):<44} p50 {p50:6.1f} ms  "
                    f"p95 {p95:6.1f} ms   (bare SQL p50 {percentile(theirs, 50):.1f} ms, "
                    f"p95 {percentile(theirs, 95):.1f} ms)"
                )
                rows.append(
                    FIGURES[key].row(
                        reproduce,
                        measured=[Stat("p50", p50, "ms"), Stat("p95", p95, "ms")],
                        comparison_name=bare_name,
                        comparison=[
                            Stat("p50", percentile(theirs, 50), "ms"),
                            Stat("p95", percentile(theirs, 95), "ms"),
                        ],
                        met=p95 <= GOAL_MS,
                        note=f"{args.rows:,} rows, {args.runs} runs",
                    )
                )
        finally:
            conn.close()
    return rows


BENCH = Bench(
    name="history",
    figures=list(FIGURES.values()),
    parser=parser,
    run=run,
    smoke=["--rows", "5000", "--runs", "5"],
)

if __name__ == "__main__":
    standalone(BENCH)
