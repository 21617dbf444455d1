"""The big-history benchmark at a smoke size: it runs to the end and its figures are sane (the
real sizes run with `make bench` or `python -m bench.big_history`, never in `make test`)."""

from __future__ import annotations

from bench import big_history


def test_the_big_history_benchmark_runs_at_a_smoke_size() -> None:
    (row,) = big_history.main(["--sizes", "20000", "--runs", "3", "--requests", "5"])
    assert row["alerts"] == 20_000
    assert row["drop_month_alerts"] == 20_000 // 12
    assert min(row["query_p95_ms"], row["stats_p95_ms"], row["metrics_p95_ms"]) > 0
    assert row["ingest_alerts_per_s"] > 0 and row["ingest_vs_empty"] > 0
