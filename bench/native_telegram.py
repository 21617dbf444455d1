"""Side by side: the product against Alertmanager's own Telegram sender, in the same run, for
the same alerts, to the same Telegram stand-in.

One Alertmanager (group_wait 0s) with two receivers chosen by a label: `path="native"` goes to
Alertmanager's own `telegram_configs` (default message, HTML; no history, no durable queue,
no rate budget, no buttons), `path="d76"` to the webhook of the d76 receiver (gunicorn, real
PostgreSQL) and its dispatcher. Alerts are posted to Alertmanager's API (POST /api/v2/alerts)
alternately, A B A B ..., one at a time, so drift of this shared machine falls on both
alike; each sample is the time from the post to sendMessage arriving at the stand-in.

The chat's rate budget (10 messages a minute) is lifted for the product's run, as
bench.delivery does: Alertmanager's own sender has none, and this compares the paths.

    .venv/bin/python -m bench.native_telegram [--alerts 200]

Goal (the seed): alert raised -> sent < 1 s, for p99.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.common import (
    CHAT,
    Bench,
    Figure,
    Row,
    command,
    dispatcher,
    latency_stats,
    lifted_budget_config,
    percentile,
    postgres,
    receiver,
    standalone,
    telegram_env,
    telegram_standin,
)
from stack.procs import ManagedProcess, http_ok
from tests.support.ports import free_port
from tests.support.standins.telegram import TOKEN, SentMessage, TelegramStandin

FIGURE = Figure(
    "api_telegram",
    "Alertmanager API → Telegram, the product",
    "p99 < 1 s (seed: raised → sent < 1 s)",
)
NATIVE = "Alertmanager's own telegram_configs, same alerts, alternately"


def alertmanager_config(webhook_url: str, telegram_api_url: str) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "d76-p0",
            "group_by": ["alertname"],
            "group_wait": "0s",  # every alert its own group, sent at once
            "group_interval": "1s",
            "repeat_interval": "1h",  # nothing is sent twice during the run
            "routes": [
                {"matchers": ['path="native"'], "receiver": "native"},
                {"matchers": ['path="d76"'], "receiver": "d76-p0"},
            ],
        },
        "receivers": [
            {
                "name": "native",
                "telegram_configs": [
                    {
                        "api_url": telegram_api_url,
                        "bot_token": TOKEN,
                        "chat_id": int(CHAT),
                        "send_resolved": False,
                    }
                ],
            },
            {
                # the receiver maps this name to Telegram (and Slack, unset here: recorded unsent)
                "name": "d76-p0",
                "webhook_configs": [{"url": webhook_url, "send_resolved": False}],
            },
        ],
    }


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: run `make install`")
    return path


@contextmanager
def alertmanager(config: dict[str, Any]) -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="d76-bench-am-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (folder / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = ManagedProcess(
        "alertmanager",
        [
            _binary("prometheus-alertmanager"),
            f"--config.file={folder / 'alertmanager.yml'}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}/",
            "--cluster.listen-address=",
        ],
        folder / "alertmanager.log",
    )
    try:
        proc.start()
        try:
            proc.wait_ready(http_ok(f"{url}/-/ready"), 30)
            yield url
        finally:
            proc.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _post(client: httpx.Client, am: str, name: str, path: str) -> None:
    body = [
        {
            "labels": {"alertname": name, "severity": "P0", "source": "RiskGuard", "path": path},
            "annotations": {
                "summary": "GlobalGuard BLOCK",
                "description": "Reason: Global Daily Loss Limit",
            },
            "generatorURL": "http://127.0.0.1:9090/graph",
        }
    ]
    response = client.post(
        f"{am}/api/v2/alerts",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    response.raise_for_status()


def _arrival(telegram: TelegramStandin, name: str, path: str) -> SentMessage:
    if path == "native":  # Alertmanager's default message lists the labels: " - alertname = X"
        return telegram.wait_for(lambda m: f"alertname = {name}\n" in m.text, 10)
    return telegram.wait_for(lambda m: f"<i>{name} " in m.text, 10)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.native_telegram",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--alerts", type=int, default=200, help="alerts per path")
    return parser


def run(args: argparse.Namespace) -> list[Row]:
    samples: dict[str, list[float]] = {"native": [], "d76": []}
    with telegram_standin() as telegram, lifted_budget_config() as config_dir:
        env = telegram_env(telegram.api_url, TOKEN, config_dir)
        with (
            postgres() as dsn,
            receiver(dsn, env) as url,
            dispatcher(dsn, env),
            alertmanager(alertmanager_config(f"{url}/webhook", telegram.api_url)) as am,
            httpx.Client(timeout=10) as client,
        ):
            for path in ("native", "d76"):  # warm-up: connections, the bot's getMe
                _post(client, am, f"Warmup-{path}", path)
                _arrival(telegram, f"Warmup-{path}", path)
            for i in range(args.alerts * 2):
                path = ("native", "d76")[i % 2]
                name = f"SideBySide{i:05d}"
                started = time.monotonic()
                _post(client, am, name, path)
                message = _arrival(telegram, name, path)
                samples[path].append((message.received_at - started) * 1000)
    ours, native = samples["d76"], samples["native"]
    for label, values in (("d76 receiver + dispatcher", ours), ("Alertmanager's own", native)):
        print(
            f"{label:<26} p50 {percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f}"
            f" ms  p99 {percentile(values, 99):6.1f} ms  (n={len(values)})"
        )
    p99_ratio = percentile(ours, 99) / percentile(native, 99)
    return [
        FIGURE.row(
            command("bench.native_telegram", parser(), args),
            measured=latency_stats(ours),
            comparison_name=NATIVE,
            comparison=latency_stats(native),
            met=percentile(ours, 99) < 1000,
            note=f"{len(ours)} + {len(native)} alerts, budget lifted; p99 ratio {p99_ratio:.2f}×",
        )
    ]


BENCH = Bench(
    name="native_telegram",
    figures=[FIGURE],
    parser=parser,
    run=run,
    smoke=["--alerts", "3"],
)

if __name__ == "__main__":
    standalone(BENCH)
