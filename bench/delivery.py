"""Webhook to Bot API latency: the receiver (gunicorn) and a dispatcher process with real
PostgreSQL deliver to the Telegram stand-in; each sample is the time from posting a one-alert
webhook to the stand-in receiving the message. The rate budget is lifted for the run so
every message is measured while under it.

    .venv/bin/python -m bench.delivery [--alerts 200] [--rate 5]

Goal: p50 <= 20 ms and p99 <= 100 ms (the seed's budget: 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import postgres, receiver
from stack.procs import ManagedProcess
from stack.render import REPO
from tests.support.payloads import alert, payload
from tests.support.standins.telegram import TOKEN, TelegramStandin

CHAT = "-100777"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="webhooks per second")
    args = parser.parse_args()

    config_dir = Path(tempfile.mkdtemp(prefix="d76-bench-config-"))
    for path in (REPO / "config").glob("*.yml"):
        (config_dir / path.name).write_text(path.read_text())
    (config_dir / "dev.yml").write_text(
        "receiver:\n  dispatcher: {rate_limit_per_window: 1000000}\n"
    )
    telegram = TelegramStandin().start()
    env = {
        "D76_CONFIG_DIR": str(config_dir),
        "TELEGRAM_API_URL": telegram.api_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_CHAT_ID": CHAT,
        "D76_ENV": "dev",
    }
    try:
        with postgres() as dsn, receiver(dsn, env) as url:
            dispatcher = ManagedProcess(
                "dispatcher",
                [sys.executable, "-m", "receiver", "dispatch"],
                config_dir / "dispatcher.log",
                env={**os.environ, **env, "DATABASE_URL": dsn},
                cwd=REPO,
            )
            dispatcher.start()
            try:
                client = httpx.Client(timeout=10)
                # warm-up: the bot's getMe, connections, caches
                client.post(
                    f"{url}/webhook",
                    content=json.dumps(payload(alert("Warmup"))),
                    headers={"Content-Type": "application/json"},
                )
                telegram.wait_for(lambda m: "Warmup" in m.text, 30)
                samples = []
                for i in range(args.alerts):
                    name = f"Latency{i}"
                    body = json.dumps(payload(alert(name, fingerprint=f"{i:016x}")))
                    started = time.monotonic()
                    response = client.post(
                        f"{url}/webhook", content=body, headers={"Content-Type": "application/json"}
                    )
                    response.raise_for_status()
                    message = telegram.wait_for(lambda m, n=name: f"<i>{n} " in m.text, 10)
                    samples.append((message.received_at - started) * 1000)
                    time.sleep(max(0.0, 1 / args.rate - (time.monotonic() - started)))
                client.close()
            finally:
                dispatcher.stop()
    finally:
        telegram.stop()
    samples.sort()
    p99 = samples[max(0, int(len(samples) * 0.99) - 1)]
    print(f"{len(samples)} webhooks at {args.rate:g}/s, each to a Telegram message (P0 route)")
    print(
        f"webhook -> Bot API: p50 {statistics.median(samples):.1f} ms  p99 {p99:.1f} ms  "
        f"max {samples[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
