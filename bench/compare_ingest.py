"""Webhook ingest of several versions of the receiver side by side, each against its ceiling.

Each given checkout (a git worktree of the version to measure) gets its own database in one
PostgreSQL, migrated by its own code, and its own receiver; in turn, round after round, wrk
posts to each receiver and pgbench commits a bare multi-row INSERT of the same rows into the
same tables of that database (bench.ingest's ceiling; a schema before migration 0011 has no
alert_ts). The means of the rounds are printed with each version's share of its ceiling.

    git worktree add --detach /tmp/before e92498f
    .venv/bin/python -m bench.compare_ingest /tmp/before . [--seconds 5] [--rounds 3]
        [--workers 2] [--threads 8] [--per-request 1,50]

Not part of `make bench` (it needs the other checkouts): the figures of the design document's
"Scale, measured" came from it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg2

from bench import ingest
from bench.common import postgres
from stack.procs import ManagedProcess, http_ok
from tests.support.ports import free_port


@contextmanager
def receiver(checkout: Path, dsn: str, workers: int, threads: int) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": dsn, "RECEIVER_PORT": str(port)}
    env["PYTHONPATH"] = str(checkout)
    subprocess.run(
        [sys.executable, "-m", "receiver", "migrate"],
        env=env,
        cwd=checkout,
        check=True,
        capture_output=True,
        timeout=300,
    )
    argv = ["serve", "--workers", str(workers), "--threads", str(threads)]
    folder = Path(tempfile.mkdtemp(prefix="d76-compare-"))
    proc = ManagedProcess(
        "receiver",
        [sys.executable, "-m", "receiver", *argv],
        folder / "receiver.log",
        env=env,
        cwd=checkout,
    )
    proc.start()
    try:
        proc.wait_ready(http_ok(f"http://127.0.0.1:{port}/readyz"), 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def bare_script(dsn: str, per_request: int) -> str:
    """bench.ingest's ceiling, for a schema with or without alert_ts (migration 0011)."""
    script = ingest.bare_script(dsn, per_request)
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                """SELECT count(*) FROM information_schema.columns
                    WHERE table_name = 'notification' AND column_name = 'alert_ts'"""
            )
            (partitioned,) = cur.fetchone() or (0,)
    finally:
        conn.close()
    if not partitioned:
        script = script.replace("(alert_id, alert_ts, kind", "(alert_id, kind")
        script = script.replace("SELECT a.id, a.timestamp, 'firing'", "SELECT a.id, 'firing'")
    return script


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare_ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkouts", nargs="+", type=Path, help="the versions' directories")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--per-request", default="1,50")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    checkouts = [c.resolve() for c in args.checkouts]
    sizes = [int(k) for k in args.per_request.split(",")]
    print(
        f"load average {os.getloadavg()[0]:.1f}; {args.workers} worker(s) x {args.threads} "
        f"threads; wrk and pgbench {args.connections} connections; {args.rounds} rounds of "
        f"{args.seconds}s",
        flush=True,
    )
    with postgres() as dsn, ExitStack() as stack:
        admin = psycopg2.connect(dsn)
        admin.autocommit = True
        dsns = []
        for n in range(len(checkouts)):
            with admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE version{n}")
            dsns.append(dsn.rsplit("/", 1)[0] + f"/version{n}")
        admin.close()
        urls = [
            stack.enter_context(receiver(c, d, args.workers, args.threads))
            for c, d in zip(checkouts, dsns, strict=True)
        ]
        for k in sizes:
            product: dict[Path, list[dict[str, float]]] = {c: [] for c in checkouts}
            bare: dict[Path, list[float]] = {c: [] for c in checkouts}
            for _ in range(args.rounds):
                for checkout, url, db in zip(checkouts, urls, dsns, strict=True):
                    figures = ingest.run_wrk(url, k, args.seconds, args.connections)
                    product[checkout].append(figures)
                    script = bare_script(db, k)
                    ceiling = ingest.run_pgbench(db, script, args.seconds, args.connections)
                    bare[checkout].append(ceiling["rps"] * k)
                    print(
                        f"K={k} {checkout}: {figures['rps'] * k:8.0f} alerts/s "
                        f"p99 {figures['p99']:.0f} ms | ceiling {ceiling['rps'] * k:8.0f} rows/s",
                        flush=True,
                    )
            for checkout in checkouts:
                rate = statistics.fmean(f["rps"] * k for f in product[checkout])
                p99 = statistics.fmean(f["p99"] for f in product[checkout])
                ceiling_rate = statistics.fmean(bare[checkout])
                print(
                    f"== K={k} {checkout}: {rate:.0f} alerts/s (p99 {p99:.0f} ms) = "
                    f"{rate / ceiling_rate:.0%} of its ceiling {ceiling_rate:.0f} rows/s",
                    flush=True,
                )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
