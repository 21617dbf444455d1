"""Every benchmark to the end, then one summary table: for each figure the goal, the measured
value, what it is compared with in the same run, the ratio, and the command that reproduces
it. A benchmark that cannot measure says why and the next one runs; the exit status is 1
when a row was not measured. The table is also written as JSON (date, machine, git commit)
to .d76/bench/<timestamp>.json and .d76/bench/bench-latest.json, to compare runs over time.

    .venv/bin/python -m bench [--smoke] [--only hooks,ingest] [--out DIR]

--smoke runs every benchmark at its smallest sizes (tests/test_bench_smoke.py, in `make
test`): it proves each one still measures, its figures mean little. Each benchmark also runs
alone: .venv/bin/python -m bench.<name> --help.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    alert_latency,
    big_history,
    delivery,
    graph,
    history,
    hooks,
    ingest,
    native_telegram,
    report,
)
from bench.common import Bench, Row, command
from stack.render import REPO

BENCHES: tuple[Bench, ...] = (
    hooks.BENCH,
    alert_latency.BENCH,
    delivery.BENCH,
    native_telegram.BENCH,
    graph.BENCH,
    ingest.BENCH,
    history.BENCH,
    big_history.BENCH,
)


def _one(bench: Bench, smoke: bool) -> tuple[list[Row], float]:
    parser = bench.parser()
    args = parser.parse_args(list(bench.smoke) if smoke else [])
    reproduce = command(f"bench.{bench.name}", parser, args)
    started = time.monotonic()
    try:
        rows = bench.run(args)
    except (Exception, SystemExit) as exc:  # one bench's failure must not stop the others
        traceback.print_exc()
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        print(f"\n!!! bench.{bench.name} could not measure: {reason}; carrying on", flush=True)
        rows = []
        error = f"{type(exc).__name__}: {reason}"
    else:
        error = "the benchmark returned no such row"
    seconds = time.monotonic() - started
    got = {row.key for row in rows}
    for figure in bench.figures:  # every promised row appears, measured or saying why not
        if figure.key not in got:
            rows.append(figure.row(reproduce, error=error))
    order = [f.key for f in bench.figures]
    rows.sort(key=lambda r: order.index(r.key) if r.key in order else len(order))
    return rows, seconds


def main(argv: list[str] | None = None) -> int:
    names = [b.name for b in BENCHES]
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="every bench at its smallest sizes")
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(names)}")
    parser.add_argument(
        "--out", type=Path, default=REPO / ".d76" / "bench", help="where the JSON record goes"
    )
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(only) - set(names))
    if unknown:
        parser.error(f"unknown bench(es): {', '.join(unknown)}; known: {', '.join(names)}")
    selected = [b for b in BENCHES if not only or b.name in only]

    started_at = datetime.now(UTC)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    timings: dict[str, float] = {}
    for bench in selected:
        sizes = " (smoke sizes)" if args.smoke else ""
        print(f"\n==> bench.{bench.name}{sizes}", flush=True)
        got, seconds = _one(bench, args.smoke)
        rows += got
        timings[bench.name] = round(seconds, 1)
        print(f"    bench.{bench.name}: {seconds:.0f}s", flush=True)
    seconds = time.monotonic() - started

    data = report.record(
        rows,
        started=started_at,
        seconds=seconds,
        smoke=args.smoke,
        argv=["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])],
    )
    data["bench_seconds"] = timings
    # how busy the machine was besides: a shared machine's figures vary with it
    data["load_average_1min"] = {"start": load_before, "end": os.getloadavg()[0]}
    caveat = " (smoke sizes: the figures prove the benches run, nothing more)"
    print(f"\n==> summary: {report.summary_line(data)}{caveat if args.smoke else ''}\n")
    report.print_table(rows)
    path = report.write(data, args.out)
    failed = [row.key for row in rows if not row.ok]
    print(f"\nall benchmarks took {seconds:.0f}s; the table is in {path}")
    if failed:
        print(f"NOT MEASURED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
