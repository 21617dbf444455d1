"""A small closed-loop HTTP load generator, used by bench.ingest where wrk is not installed
(`make test`'s smoke run on a machine without it): the same payloads as webhook_post.lua,
one keep-alive connection per thread, for a bounded time. Prints one JSON line.

    .venv/bin/python -m bench.loadgen URL --per-request 1 --seconds 2 --connections 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import time
from urllib.parse import urlsplit

from bench.common import percentile


def _alert(i: int, thread_id: int) -> str:
    return (
        '{"status":"firing","labels":{"alertname":"RouteScoreLow","severity":"P2",'
        f'"source":"ArbRoute","route":"R{i % 50}"}},"annotations":{{"summary":"Route Score Low",'
        '"description":"Score: 42"},"startsAt":"2026-11-24T03:00:00Z",'
        '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"",'
        f'"fingerprint":"{thread_id:08x}{i:08x}"}}'
    )


def _body(first: int, per_request: int, thread_id: int) -> bytes:
    alerts = ",".join(_alert(first + k, thread_id) for k in range(per_request))
    return (
        '{"version":"4","groupKey":"g","truncatedAlerts":0,"status":"firing",'
        '"receiver":"d76-p2","groupLabels":{},"commonLabels":{},"commonAnnotations":{},'
        f'"externalURL":"http://127.0.0.1:9093","alerts":[{alerts}]}}'
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--per-request", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    target = urlsplit(args.url)
    if target.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only")
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def worker() -> None:
        thread_id = random.randint(1, 2**31 - 1)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=10)
        n = 0
        mine: list[float] = []
        try:
            while time.monotonic() < deadline:
                body = _body(n, args.per_request, thread_id)
                n += args.per_request
                started = time.perf_counter()
                conn.request("POST", "/webhook", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                mine.append((time.perf_counter() - started) * 1000)
                if response.status >= 300:
                    with lock:
                        errors.append(str(response.status))
        except OSError as exc:
            with lock:
                errors.append(repr(exc))
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.seconds + 30)
    elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "rps": len(latencies) / elapsed,
                "p50": percentile(latencies, 50) if latencies else 0.0,
                "p99": percentile(latencies, 99) if latencies else 0.0,
                "errors": errors[:5],
            }
        )
    )


if __name__ == "__main__":
    main()
