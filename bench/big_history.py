"""The history at scale: 1 M, 5 M and 20 M alerts over the last year, each with a delivered
notification and its attempt, generated in SQL (generate_series) into the partitioned tables.
At each size, on the same PostgreSQL:

- the API's 24 h + severity query (first page of 50) and 24 h hourly statistics, p50 and p95;
- ingest: 50-alert webhooks through ``store.ingest``, in process, alternating with a
  database of the same schema left empty (the ratio is the figure, so the machine's load
  matters less);
- dropping the oldest month (its four partitions), as ``prune`` does;
- a /metrics scrape of the delivery state, once it has caught up with the history.

    .venv/bin/python -m bench.big_history [--sizes 1000000,5000000,20000000] [--runs 50]

`make bench` runs it at the sizes of D76_BIG_HISTORY_SIZES (default 1000000,5000000,20000000;
about 40 minutes on a 2-core machine, 1 GB of disk per million alerts); `make test` runs it
once at a smoke size (tests/e2e/test_bench_smoke.py, through `python -m bench --smoke`).
The summary table has the largest size's figures, each against the same figure at the smallest
size (the curve is flat when the ratio is near 1) or, for ingest and /metrics, against the
empty database; the whole curve is printed above it.

Goals: query p95 <= 50 ms, statistics p95 <= 100 ms, ingest within 20% of the empty
database, a month dropped in <= 1 s, /metrics flat.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
from prometheus_client import CollectorRegistry

from bench import history_fill
from bench.common import Bench, Figure, Row, Stat, command, postgres, standalone
from receiver import query_params, store
from receiver.store import partitions
from receiver.web.metrics import DeliveryStateCollector
from receiver.webhook_parser import parse


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def _payload(count: int) -> Any:
    run = uuid.uuid4().hex[:8]
    starts = datetime.now(UTC).isoformat()
    return parse(
        {
            "version": "4",
            "status": "firing",
            "receiver": "d76-p2",
            "groupKey": "bench",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "RouteScoreLow", "severity": "P2", "route": f"R{k}"},
                    "annotations": {"summary": "Route Score Low", "description": "Score: 42"},
                    "startsAt": starts,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": f"{run}{k:08x}",
                }
                for k in range(count)
            ],
        }
    )


def ingest_rate(dsn: str, requests: int, per_request: int = 50) -> float:
    """Alerts per second stored by ``requests`` webhooks of ``per_request`` new alerts each."""
    payloads = [_payload(per_request) for _ in range(requests)]
    conn = store.connect(dsn)
    try:
        started = time.perf_counter()
        for notification in payloads:
            store.ingest(conn, notification, ["telegram", "slack_alerts"])
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    return requests * per_request / elapsed


def scrape_ms(dsn: str, runs: int) -> tuple[float, float, int]:
    """p50 and p95 of a delivery-state scrape once caught up, and the scrapes catching up took.
    One connection, kept, as the receiver's pool keeps them (a new connection per scrape would
    time connecting)."""
    kept = psycopg2.connect(dsn)

    @contextmanager
    def connection() -> Any:
        yield kept

    registry = CollectorRegistry()
    registry.register(DeliveryStateCollector(connection))
    conn = store.connect(dsn)
    catching_up = 0
    try:
        while catching_up < 1000:  # each scrape folds at most 100,000 attempts
            catching_up += 1
            list(registry.collect())
            settled = history_fill.scalar(conn, "SELECT settled_id FROM delivery_totals_mark")
            newest = history_fill.scalar(
                conn, "SELECT COALESCE(max(id), 0) FROM notification_attempt"
            )
            if newest - settled < 100_000:
                break
    finally:
        conn.close()
    try:
        p50, p95 = timed(lambda: list(registry.collect()), runs)
    finally:
        kept.close()
    return p50, p95, catching_up


def drop_a_month(dsn: str, alerts: int, now: datetime) -> tuple[float, int]:
    """Time dropping a month of ``alerts`` alerts (with their outbox rows), as prune does: a
    month two years back, filled for the purpose, so the history measured stays whole."""
    month = (now - timedelta(days=730)).date().replace(day=1)
    conn = store.connect(dsn)
    try:
        history_fill.fill_month(conn, month, alerts)
        started = time.perf_counter()
        dropped = partitions.drop_month(conn, month)
        return (time.perf_counter() - started) * 1000, dropped
    finally:
        conn.close()


def measure(dsn: str, empty: str, size: int, runs: int, requests: int) -> dict[str, Any]:
    conn = store.connect(dsn)
    now = datetime.now(UTC)
    try:
        day = query_params.HistoryFilter(
            start=now - timedelta(hours=24), end=now, severities=("P0", "P1")
        )
        q50, q95 = timed(lambda: store.list_alerts(conn, day, 50, None), runs)
        all_day = query_params.HistoryFilter(start=now - timedelta(hours=24), end=now)
        s50, s95 = timed(lambda: store.stats(conn, all_day, "hour"), runs)
    finally:
        conn.close()
    rates: dict[str, list[float]] = {"big": [], "empty": []}
    for _ in range(3):  # alternating, so both see the same machine
        rates["empty"].append(ingest_rate(empty, requests))
        rates["big"].append(ingest_rate(dsn, requests))
    m50, m95, catch_up = scrape_ms(dsn, runs)
    e50, e95, _ = scrape_ms(empty, runs)
    drop_ms, dropped = drop_a_month(dsn, size // 12, now)
    big, small = statistics.fmean(rates["big"]), statistics.fmean(rates["empty"])
    return {
        "alerts": size,
        "query_p50_ms": q50,
        "query_p95_ms": q95,
        "stats_p50_ms": s50,
        "stats_p95_ms": s95,
        "ingest_alerts_per_s": big,
        "ingest_empty_alerts_per_s": small,
        "ingest_vs_empty": big / small,
        "drop_month_ms": drop_ms,
        "drop_month_alerts": dropped,
        "metrics_p50_ms": m50,
        "metrics_p95_ms": m95,
        "metrics_catch_up_scrapes": catch_up,
        "metrics_empty_p50_ms": e50,
        "metrics_empty_p95_ms": e95,
    }


FIGURES = {
    "page": Figure("big_history_page", "history at scale: 24 h + severity page", "p95 ≤ 50 ms"),
    "stats": Figure("big_history_stats", "history at scale: 24 h statistics", "p95 ≤ 100 ms"),
    "ingest": Figure(
        "big_history_ingest", "history at scale: ingest, 50 alerts per request", "≥ 80% of empty"
    ),
    "drop": Figure("big_history_drop", "history at scale: drop one month", "≤ 1 s"),
    "metrics": Figure("big_history_metrics", "history at scale: /metrics delivery state", "flat"),
}
SIZES = os.environ.get("D76_BIG_HISTORY_SIZES", "1000000,5000000,20000000")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.big_history",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default=SIZES, help="alerts, comma-separated")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100, help="webhooks per ingest run")
    return parser


def curve(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Grow the history size by size and measure at each; print the curve as it goes."""
    sizes = sorted(int(size) for size in args.sizes.split(","))
    results = []
    with postgres() as dsn:
        admin = psycopg2.connect(dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("CREATE DATABASE empty_twin")
        admin.close()
        empty = dsn.rsplit("/", 1)[0] + "/empty_twin"
        store.migrate(empty)
        conn = store.connect(dsn)
        now = datetime.now(UTC)
        have = 0
        print(
            f"{'alerts':>11} {'fill s':>7} {'page p95':>9} {'stats p95':>10} {'ingest/s':>9} "
            f"{'vs empty':>8} {'drop month':>11} {'metrics p95':>12} {'(empty)':>8}",
            flush=True,
        )
        try:
            for size in sizes:
                seconds = history_fill.fill(conn, have, size, now)
                have = size
                row = measure(dsn, empty, size, args.runs, args.requests)
                row["fill_seconds"] = seconds
                results.append(row)
                print(
                    f"{size:>11,} {seconds:>7.0f} {row['query_p95_ms']:>7.1f}ms "
                    f"{row['stats_p95_ms']:>8.1f}ms {row['ingest_alerts_per_s']:>9.0f} "
                    f"{row['ingest_vs_empty']:>8.0%} {row['drop_month_ms']:>9.0f}ms "
                    f"{row['metrics_p95_ms']:>10.1f}ms {row['metrics_empty_p95_ms']:>6.1f}ms",
                    flush=True,
                )
        finally:
            conn.close()
    return results


def run(args: argparse.Namespace) -> list[Row]:
    reproduce = command("bench.big_history", parser(), args)
    results = curve(args)
    small, big = results[0], results[-1]
    at = f"{big['alerts']:,} alerts"
    against = f"the same at {small['alerts']:,} alerts"

    def ms(row: dict[str, Any], key: str) -> list[Stat]:
        return [Stat("p95", row[f"{key}_p95_ms"], "ms"), Stat("p50", row[f"{key}_p50_ms"], "ms")]

    return [
        FIGURES["page"].row(
            reproduce,
            measured=ms(big, "query"),
            comparison_name=against,
            comparison=ms(small, "query"),
            met=big["query_p95_ms"] <= 50,
            note=at,
        ),
        FIGURES["stats"].row(
            reproduce,
            measured=ms(big, "stats"),
            comparison_name=against,
            comparison=ms(small, "stats"),
            met=big["stats_p95_ms"] <= 100,
            note=at,
        ),
        FIGURES["ingest"].row(
            reproduce,
            measured=[Stat("", big["ingest_alerts_per_s"], "alerts/s")],
            comparison_name="the same webhooks into an empty database, alternating",
            comparison=[Stat("", big["ingest_empty_alerts_per_s"], "alerts/s")],
            met=big["ingest_vs_empty"] >= 0.8,
            note=f"{at}, in process, one connection",
        ),
        FIGURES["drop"].row(
            reproduce,
            measured=[Stat("", big["drop_month_ms"], "ms")],
            comparison_name=against,
            comparison=[Stat("", small["drop_month_ms"], "ms")],
            met=big["drop_month_ms"] <= 1000,
            note=f"a month of {big['drop_month_alerts']:,} alerts with their outbox rows",
        ),
        FIGURES["metrics"].row(
            reproduce,
            measured=ms(big, "metrics"),
            comparison_name="the same scrape of an empty database",
            comparison=[
                Stat("p95", big["metrics_empty_p95_ms"], "ms"),
                Stat("p50", big["metrics_empty_p50_ms"], "ms"),
            ],
            met=big["metrics_p95_ms"] <= max(20.0, 3 * big["metrics_empty_p95_ms"]),
            note=f"{at}; caught up after {big['metrics_catch_up_scrapes']} scrape(s)",
        ),
    ]


BENCH = Bench(
    name="big_history",
    figures=list(FIGURES.values()),
    parser=parser,
    run=run,
    smoke=["--sizes", "20000", "--runs", "3", "--requests", "5"],
)

if __name__ == "__main__":
    standalone(BENCH)
