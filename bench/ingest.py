"""Webhook ingest throughput with durable commits, beside PostgreSQL alone in the same run.

The product: wrk (a second process on loopback) posts Alertmanager payloads of 1 and of 50
alerts, each alert a new occurrence, so every request inserts rows and outbox entries and
commits before it is answered. The comparison, the ceiling: pgbench, with as many connections,
commits a bare multi-row INSERT of the same rows (copied from what the receiver stored, each
with a fresh fingerprint) into the same tables of the same PostgreSQL, one transaction per
request: `alert_history`, and `notification` (one row per target of the receiver `d76-p2`,
as the receiver queues them) in the same statement. The two alternate, A B A B, for --rounds
rounds of --seconds each; the figures are the means of the rounds, and the ratio is the
product's rate as a fraction of the ceiling.

Where wrk is not installed (`make bench` installs it), a small Python load generator
(bench/loadgen.py) stands in for it, and the row says so.

    .venv/bin/python -m bench.ingest [--seconds 5] [--rounds 2] [--connections 32] [--workers 2]

Goals on a 2-core machine: >= 600 requests/s at 1 alert per request with p99 <= 50 ms, and
>= 10,000 alerts/s at 50 alerts per request, at least 60% of the ceiling.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2

from bench.common import (
    Bench,
    Figure,
    Row,
    Stat,
    command,
    percentile,
    postgres,
    receiver,
    standalone,
)
from stack.postgres import pg_bin
from stack.render import REPO
from tests.support.database import query

LUA = (Path(__file__).with_name("webhook_post.lua")).read_text()
TARGETS = ("telegram", "slack_alerts")  # config/receiver.yml: d76-p2, wrk's receiver
COLUMNS = (
    "timestamp, severity, source, title, message, metadata, fingerprint, alertname, status, "
    "starts_at, ends_at, labels, annotations, generator_url, receiver, episode"
)
FIGURES = {
    1: Figure("ingest_k1", "webhook ingest, 1 alert per request", "≥ 600 requests/s, p99 ≤ 50 ms"),
    50: Figure(
        "ingest_k50",
        "webhook ingest, 50 alerts per request",
        "≥ 10,000 alerts/s, ≥ 60% of the ceiling",
    ),
}


def run_wrk(url: str, per_request: int, seconds: int, connections: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="d76-wrk-"))
    try:
        script = folder / "post.lua"
        seed = random.SystemRandom().randint(1, 2**31 - 1)
        script.write_text(
            LUA.replace("PER_REQUEST", str(per_request)).replace("RUN_SEED", str(seed))
        )
        result = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = result.stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"the receiver answered errors:\n{out}")

    def latency(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not match:
            raise RuntimeError(f"no {label}% latency in wrk's output:\n{out}")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")
    return {"rps": float(rps.group(1)), "p50": latency("50"), "p99": latency("99")}


def run_python_load(url: str, per_request: int, seconds: int, connections: int) -> dict[str, float]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            url,
            "--per-request",
            str(per_request),
            "--seconds",
            str(seconds),
            "--connections",
            str(connections),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=seconds + 60,
    )
    figures = json.loads(result.stdout)
    if figures["errors"] or not figures["requests"]:
        raise RuntimeError(f"the receiver answered errors: {figures['errors']}")
    return {"rps": figures["rps"], "p50": figures["p50"], "p99": figures["p99"]}


def bare_script(dsn: str, per_request: int) -> str:
    """A pgbench script storing ``per_request`` of the rows the receiver stored, each with a
    fresh fingerprint, in one multi-row INSERT into alert_history whose rows feed one INSERT
    into notification (one row per target), in one transaction."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            # json columns as their text: psycopg2 hands jsonb back as dicts it cannot quote
            columns = re.sub(r"\b(metadata|labels|annotations)\b", r"\1::text", COLUMNS)
            cur.execute(
                f"SELECT {columns} FROM alert_history ORDER BY id DESC LIMIT %s", (per_request,)
            )
            rows = cur.fetchall()
            if len(rows) < per_request:
                raise RuntimeError(f"the receiver stored {len(rows)} rows, not {per_request}")
            values = []
            for k, row in enumerate(rows):
                row = (*row[:6], f"FINGERPRINT{k}", *row[7:])
                literal = cur.mogrify("(" + ", ".join(["%s"] * len(row)) + ")", row).decode()
                # pgbench puts :r (random per transaction) in: a new occurrence every time
                values.append(literal.replace(f"'FINGERPRINT{k}'", f"(:r || '-{k}')"))
    finally:
        conn.close()
    targets = ", ".join(f"('{target}')" for target in TARGETS)
    return (
        "\\set r random(1, 9000000000000000000)\n"
        "BEGIN;\n"
        f"WITH a AS (INSERT INTO alert_history ({COLUMNS}) VALUES\n"
        + ",\n".join(values)
        + "\n RETURNING id, timestamp, fingerprint, severity)\n"
        "INSERT INTO notification (alert_id, alert_ts, kind, target, priority, fingerprint,\n"
        "                          give_up_at)\n"
        "SELECT a.id, a.timestamp, 'firing', t.target, 2, a.fingerprint, now() + interval '1 day'\n"
        f"  FROM a, (VALUES {targets}) AS t(target);\n"
        "COMMIT;\n"
    )


def run_pgbench(dsn: str, script: str, seconds: int, connections: int) -> dict[str, float]:
    target = urlsplit(dsn)
    folder = Path(tempfile.mkdtemp(prefix="d76-pgbench-"))
    try:
        (folder / "insert.sql").write_text(script)
        result = subprocess.run(
            [
                pg_bin("pgbench"),
                "-h",
                target.hostname or "127.0.0.1",
                "-p",
                str(target.port),
                "-U",
                target.username or "d76",
                "-n",  # no vacuum of pgbench's own tables: there are none
                f"-c{connections}",
                "-j2",
                f"-T{seconds}",
                "-f",
                str(folder / "insert.sql"),
                "--log",
                f"--log-prefix={folder / 'tx'}",
                target.path.lstrip("/"),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            cwd=folder,
            check=False,
        )
        out = result.stdout + result.stderr
        failed = re.search(r"number of failed transactions: (\d+)", out)
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
        if result.returncode != 0 or not tps or (failed and int(failed.group(1))):
            raise RuntimeError(f"pgbench failed (code {result.returncode}):\n{out[-2000:]}")
        latencies = [
            int(line.split()[2]) / 1000
            for log in folder.glob("tx.*")
            for line in log.read_text().splitlines()
            if line.strip()
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "rps": float(tps.group(1)),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
    }


def _mean(runs: list[dict[str, float]], key: str) -> float:
    return statistics.fmean(run[key] for run in runs)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=int, default=5, help="per run")
    parser.add_argument("--rounds", type=int, default=2, help="product and bare runs, alternating")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--load", choices=["auto", "wrk", "python"], default="auto", help="auto: wrk if installed"
    )
    return parser


def run(args: argparse.Namespace) -> list[Row]:
    load = args.load
    if load == "auto":
        load = "wrk" if shutil.which("wrk") else "python"
    if load == "wrk" and shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (make bench does it)")
    generate = run_wrk if load == "wrk" else run_python_load
    generator = "wrk" if load == "wrk" else "Python load generator"
    if load == "python" and args.load == "auto":
        generator += " (wrk not installed)"
    rows = []
    with postgres() as dsn, receiver(dsn, workers=args.workers, threads=args.threads) as url:
        print(
            f"receiver: gunicorn {args.workers} worker(s) x {args.threads} threads; "
            f"{generator}, {args.connections} connections; pgbench -c {args.connections} -j 2; "
            f"{args.rounds} round(s) of {args.seconds}s each, alternating\n"
        )
        for per_request in (1, 50):
            product: list[dict[str, float]] = []
            bare: list[dict[str, float]] = []
            for _ in range(args.rounds):
                before = int(str(query(dsn, "SELECT count(*) FROM alert_history")[0][0]))
                figures = generate(url, per_request, args.seconds, args.connections)
                stored = int(str(query(dsn, "SELECT count(*) FROM alert_history")[0][0])) - before
                posted = figures["rps"] * args.seconds * per_request
                if stored < 0.9 * posted:  # each alert must be a new occurrence, stored anew
                    raise RuntimeError(
                        f"{stored} rows stored for about {posted:.0f} alerts posted: the load "
                        "generator repeated fingerprints, the figure would not be of inserts"
                    )
                product.append(figures)
                print(
                    f"{per_request:>2} alert(s)/request: {figures['rps']:8.0f} requests/s  "
                    f"{figures['rps'] * per_request:9.0f} alerts/s  "
                    f"p50 {figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms  "
                    f"({stored} rows stored)"
                )
                script = bare_script(dsn, per_request)
                figures = run_pgbench(dsn, script, args.seconds, args.connections)
                bare.append(figures)
                print(
                    f"   bare INSERT of {per_request:>2}: {figures['rps']:8.0f} commits/s   "
                    f"{figures['rps'] * per_request:9.0f} rows/s    "
                    f"p50 {figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms   "
                    f"(product: {product[-1]['rps'] / figures['rps']:.0%} of it)"
                )
            rps, p50, p99 = (_mean(product, k) for k in ("rps", "p50", "p99"))
            bare_rps, bare_p50, bare_p99 = (_mean(bare, k) for k in ("rps", "p50", "p99"))
            if per_request == 1:
                measured = [Stat("", rps, "requests/s"), Stat("p50", p50, "ms")]
                comparison = [Stat("", bare_rps, "INSERTs/s"), Stat("p50", bare_p50, "ms")]
                met = rps >= 600 and p99 <= 50
            else:
                measured = [Stat("", rps * 50, "alerts/s"), Stat("p50", p50, "ms")]
                comparison = [Stat("", bare_rps * 50, "rows/s"), Stat("p50", bare_p50, "ms")]
                met = rps * 50 >= 10_000 and rps >= 0.6 * bare_rps
            measured.append(Stat("p99", p99, "ms"))
            comparison.append(Stat("p99", bare_p99, "ms"))
            rows.append(
                FIGURES[per_request].row(
                    command("bench.ingest", parser(), args),
                    measured=measured,
                    comparison_name=(
                        f"ceiling: bare {per_request}-row INSERT of the same rows into the same "
                        "tables, same PostgreSQL (pgbench)"
                    ),
                    comparison=comparison,
                    met=met,
                    note=(
                        f"{generator}, {args.connections} connections, "
                        f"mean of {args.rounds} round(s)"
                    ),
                )
            )
    return rows


BENCH = Bench(
    name="ingest",
    figures=list(FIGURES.values()),
    parser=parser,
    run=run,
    smoke=["--seconds", "1", "--rounds", "1", "--connections", "8"],
)

if __name__ == "__main__":
    standalone(BENCH)
