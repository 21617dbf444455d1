"""Alert latency through the real pipeline: simulator gauge change -> Telegram stand-in, beside
Alertmanager's own Telegram sender fed by the same alert in the same run.

Starts the whole stack (PostgreSQL, receiver, dispatcher, simulator, Alertmanager,
Prometheus) on free loopback ports with the Telegram stand-in. Alertmanager's configuration
gets one more route, first and with `continue: true`: the GlobalGuard alert also goes to a
receiver with Alertmanager's own `telegram_configs`, pointed at the same stand-in. Each cycle
enters and leaves the GlobalGuard daily-loss condition once and times, from the gauge change,
the firing and the resolved message of both senders. Each change waits a random 0-1 s
first, so the changes fall at every point of Prometheus' 1 s scrape and evaluation cycles.

The chat's rate budget (10 messages a minute) is lifted for the run, as bench.delivery does:
each cycle sends two messages, so at the production budget the sixth cycle would wait for
the next window; this bench measures the pipeline, not the budget.

    .venv/bin/python -m bench.alert_latency [--cycles 20]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from bench.common import (
    CHAT,
    Bench,
    Figure,
    Row,
    Stat,
    command,
    lifted_budget_config,
    percentile,
    standalone,
    telegram_env,
    telegram_standin,
)
from stack.render import ALERTMANAGER_DIR, Ports
from stack.stack import Stack, StackConfig
from tests.support.ports import free_port
from tests.support.standins.telegram import TOKEN, SentMessage, TelegramStandin

ALERT = "GlobalGuardDailyLossLimit"
NATIVE = "bench-alertmanager-telegram"
FIRING_GOAL = 3.0  # s: ≤ 1 s to the next scrape, ≤ 1 s to the next evaluation, seed's < 1 s
RESOLVED_GOAL = 4.0  # s: the same and the test timers' 1 s group_interval
FIRING = Figure(
    "gauge_telegram_firing",
    "gauge → Telegram, firing (P0)",
    f"max ≤ {FIRING_GOAL:.0f} s (scrape 1 s + evaluation 1 s + seed's < 1 s)",
)
RESOLVED = Figure(
    "gauge_telegram_resolved",
    "gauge back → Telegram, resolved (P0)",
    f"max ≤ {RESOLVED_GOAL:.0f} s (the same + 1 s test group_interval)",
)


def _play(stack: Stack, scenario: str) -> None:
    url = f"{stack.url('exporter')}/scenario/{scenario}"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5):
        pass


def _alertmanager_dir(folder: Path, telegram: TelegramStandin) -> Path:
    """The repository's alertmanager.yml plus a first route sending the GlobalGuard alert to
    Alertmanager's own Telegram sender as well (default message and parse mode)."""
    data: dict[str, Any] = yaml.safe_load((ALERTMANAGER_DIR / "alertmanager.yml").read_text())
    data["templates"] = [str((ALERTMANAGER_DIR / t).resolve()) for t in data["templates"]]
    data["route"]["routes"].insert(
        0,
        {
            "matchers": [f'alertname="{ALERT}"'],
            "receiver": NATIVE,
            "group_wait": "0s",
            "continue": True,
        },
    )
    data["receivers"].append(
        {
            "name": NATIVE,
            "telegram_configs": [
                {
                    "api_url": telegram.api_url,
                    "bot_token": TOKEN,
                    "chat_id": int(CHAT),
                    "send_resolved": True,
                }
            ],
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alertmanager.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _native(message: SentMessage) -> bool:
    return "Alerts Firing:" in message.text or "Alerts Resolved:" in message.text


def _wait_both(
    telegram: TelegramStandin, after: int, resolved: bool, timeout: float
) -> tuple[SentMessage, SentMessage]:
    """The product's and Alertmanager's message (firing or resolved) among those after the
    first ``after``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [m for m in telegram.sent()[after:] if ALERT in m.text or _native(m)]
        ours = [m for m in fresh if not _native(m) and ("RESOLVED" in m.text) == resolved]
        native = [m for m in fresh if "Alerts Resolved:" in m.text] if resolved else []
        if not resolved:
            native = [m for m in fresh if "Alerts Firing:" in m.text]
        if ours and native:
            return ours[0], native[0]
        time.sleep(0.05)
    kind = "resolved" if resolved else "firing"
    texts = "\n---\n".join(m.text for m in telegram.sent()[after:]) or "(none)"
    raise AssertionError(
        f"no {kind} message from both senders within {timeout:.0f}s; got:\n{texts}"
    )


def _stats(values: list[float]) -> list[Stat]:
    return [
        Stat("p50", percentile(values, 50), "s"),
        Stat("p95", percentile(values, 95), "s"),
        Stat("max", max(values), "s"),
    ]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.alert_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cycles", type=int, default=20)
    return parser


def run(args: argparse.Namespace) -> list[Row]:
    phase = random.Random()
    fired: list[float] = []
    fired_native: list[float] = []
    resolved: list[float] = []
    resolved_native: list[float] = []
    state = Path(tempfile.mkdtemp(prefix="d76-bench-"))
    state.chmod(0o755)
    try:
        with telegram_standin() as telegram, lifted_budget_config() as config_dir:
            ports = Ports(
                prometheus=free_port(),
                alertmanager=free_port(),
                receiver=free_port(),
                exporter=free_port(),
                postgres=free_port(),
            )
            stack = Stack(
                StackConfig(
                    state_dir=state / "stack",
                    ports=ports,
                    scenario="calm",
                    fast_timers=True,
                    alertmanager_dir=_alertmanager_dir(state / "alertmanager-source", telegram),
                    env=telegram_env(telegram.api_url, TOKEN, config_dir),
                ),
                progress=lambda line: print(f"  {line}"),
            )
            try:
                stack.start()
                print("  the chat's rate budget is lifted for this run (see the docstring)")
                for cycle in range(args.cycles):
                    # A cycle starts just after a message, so just after a rule evaluation:
                    # without a random wait every change would fall at the same point of the
                    # 1 s scrape and evaluation cycles, and the figures would show that point.
                    time.sleep(phase.uniform(0, 1))
                    seen = len(telegram.sent())
                    started = time.monotonic()
                    _play(stack, "global_daily_loss")
                    ours, native = _wait_both(telegram, seen, resolved=False, timeout=30)
                    fired.append(ours.received_at - started)
                    fired_native.append(native.received_at - started)
                    time.sleep(phase.uniform(0, 1))
                    seen = len(telegram.sent())
                    started = time.monotonic()
                    _play(stack, "calm")
                    ours, native = _wait_both(telegram, seen, resolved=True, timeout=30)
                    resolved.append(ours.received_at - started)
                    resolved_native.append(native.received_at - started)
                    print(
                        f"  cycle {cycle + 1}: firing {fired[-1]:.2f}s "
                        f"(Alertmanager's own {fired_native[-1]:.2f}s), resolved "
                        f"{resolved[-1]:.2f}s (Alertmanager's own {resolved_native[-1]:.2f}s)"
                    )
            finally:
                stack.stop()
    finally:
        shutil.rmtree(state, ignore_errors=True)
    print("\nscrape 1s, evaluation 1s, for: 0s, P0 group_wait 0s, group_interval 1s (test timers)")
    reproduce = command("bench.alert_latency", parser(), args)
    native_name = "Alertmanager's own telegram_configs, same alert"
    note = f"{len(fired)} cycle{'' if len(fired) == 1 else 's'}, budget lifted"
    return [
        FIRING.row(
            reproduce,
            measured=_stats(fired),
            comparison_name=native_name,
            comparison=_stats(fired_native),
            met=max(fired) <= FIRING_GOAL,
            note=note,
        ),
        RESOLVED.row(
            reproduce,
            measured=_stats(resolved),
            comparison_name=native_name,
            comparison=_stats(resolved_native),
            met=max(resolved) <= RESOLVED_GOAL,
            note=note,
        ),
    ]


BENCH = Bench(
    name="alert_latency",
    figures=[FIRING, RESOLVED],
    parser=parser,
    run=run,
    smoke=["--cycles", "1"],
)

if __name__ == "__main__":
    standalone(BENCH)
