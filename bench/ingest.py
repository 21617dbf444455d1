"""Webhook ingest throughput with durable commits: wrk (a second process on loopback) posts
Alertmanager payloads of 1 and of 50 alerts, each alert a new occurrence, so every request
inserts rows and outbox entries and commits before it is answered.

    .venv/bin/python -m bench.ingest [--seconds 10] [--connections 32] [--workers 2]

Goals on a 2-core machine: >= 600 requests/s at 1 alert per request with p99 <= 50 ms, and
>= 10,000 alerts/s at 50 alerts per request.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import postgres, receiver
from tests.support.database import query

LUA = (Path(__file__).with_name("webhook_post.lua")).read_text()


def run_wrk(url: str, per_request: int, seconds: int, connections: int) -> dict[str, float]:
    script = Path(tempfile.mkdtemp(prefix="d76-wrk-")) / "post.lua"
    script.write_text(LUA.replace("PER_REQUEST", str(per_request)))
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    if "Non-2xx" in out:
        raise SystemExit(f"the receiver answered errors:\n{out}")

    def latency(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": latency("50"), "p99": latency("99")}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench does it)")
    with postgres() as dsn, receiver(dsn, workers=args.workers, threads=args.threads) as url:
        print(
            f"receiver: gunicorn {args.workers} worker(s) x {args.threads} threads; "
            f"wrk 2 threads, {args.connections} connections, {args.seconds}s per run\n"
        )
        for per_request in (1, 50):
            before = int(str(query(dsn, "SELECT count(*) FROM alert_history")[0][0]))
            figures = run_wrk(url, per_request, args.seconds, args.connections)
            stored = int(str(query(dsn, "SELECT count(*) FROM alert_history")[0][0])) - before
            print(
                f"{per_request:>2} alert(s)/request: {figures['rps']:8.0f} requests/s  "
                f"{figures['rps'] * per_request:9.0f} alerts/s  "
                f"p50 {figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms  "
                f"({stored} rows stored)"
            )


if __name__ == "__main__":
    main()
