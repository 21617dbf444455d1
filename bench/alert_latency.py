"""Alert latency through the real pipeline: simulator gauge change -> Telegram stand-in.

Starts the whole stack (PostgreSQL, receiver, dispatcher, simulator, Alertmanager,
Prometheus) on free loopback ports with the Telegram stand-in, then enters and leaves the
GlobalGuard daily-loss condition N times and prints the time to the firing message and to
the resolved message.

    .venv/bin/python -m bench.alert_latency [--cycles 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from stack.render import Ports
from stack.stack import Stack, StackConfig
from tests.support.ports import free_port
from tests.support.standins.telegram import TOKEN, TelegramStandin

CHAT = "-100777"


def _play(stack: Stack, scenario: str) -> None:
    url = f"{stack.url('exporter')}/scenario/{scenario}"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5):
        pass


def _summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"{name:<28} n={len(values):<3} first={values[0]:.2f}s  "
        f"median={statistics.median(ordered):.2f}s  max={ordered[-1]:.2f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args()

    telegram = TelegramStandin().start()
    state = Path(tempfile.mkdtemp(prefix="d76-bench-"))
    state.chmod(0o755)
    ports = Ports(
        prometheus=free_port(),
        alertmanager=free_port(),
        receiver=free_port(),
        exporter=free_port(),
        postgres=free_port(),
    )
    stack = Stack(
        StackConfig(
            state_dir=state,
            ports=ports,
            scenario="calm",
            fast_timers=True,
            env={
                "TELEGRAM_API_URL": telegram.api_url,
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_CHAT_ID": CHAT,
            },
        ),
        progress=lambda line: print(f"  {line}"),
    )
    fired: list[float] = []
    resolved: list[float] = []
    try:
        stack.start()
        for cycle in range(args.cycles):
            seen = len(telegram.sent())
            started = time.monotonic()
            _play(stack, "global_daily_loss")
            message = telegram.wait_for(
                lambda m, n=seen: m.message_id > 100 + n and "RESOLVED" not in m.text, 30
            )
            fired.append(message.received_at - started)
            started = time.monotonic()
            _play(stack, "calm")
            message = telegram.wait_for(
                lambda m, n=seen: m.message_id > 101 + n and "RESOLVED" in m.text, 30
            )
            resolved.append(message.received_at - started)
            print(f"  cycle {cycle + 1}: firing {fired[-1]:.2f}s, resolved {resolved[-1]:.2f}s")
    finally:
        stack.stop()
        telegram.stop()
        shutil.rmtree(state, ignore_errors=True)
    print("\nscrape 1s, evaluation 1s, for: 0s, P0 group_wait 0s, group_interval 1s (test timers)")
    print(_summary("gauge -> firing message", fired))
    print(_summary("clear -> resolved message", resolved))


if __name__ == "__main__":
    main()
