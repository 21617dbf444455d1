"""End to end through real binaries: simulator -> exporter -> Prometheus -> Alertmanager ->
receiver -> PostgreSQL, and dispatcher -> the Telegram stand-in."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stack.render import Ports
from stack.stack import Stack, StackConfig
from tests.conftest import binary, free_port, query
from tests.standins.telegram import TOKEN, TelegramStandin

pytestmark = pytest.mark.e2e
CHAT = "-100777"


def free_ports() -> Ports:
    return Ports(
        prometheus=free_port(),
        alertmanager=free_port(),
        receiver=free_port(),
        exporter=free_port(),
        postgres=free_port(),
    )


@pytest.fixture
def pipeline(
    state_root: Path, database_url: str, telegram: TelegramStandin, tmp_path: Path
) -> Iterator[Stack]:
    binary("prometheus")
    binary("prometheus-alertmanager")
    config = StackConfig(
        state_dir=tmp_path / "stack",
        ports=free_ports(),
        scenario="calm",
        database_url=database_url,
        fast_timers=True,
        env={
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_CHAT_ID": CHAT,
            "RECEIVER_WEBHOOK_TOKEN": "e2e-webhook-token",
        },
    )
    stack = Stack(config, progress=lambda _: None)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def play(stack: Stack, scenario: str) -> None:
    request = urllib.request.Request(f"{stack.url('exporter')}/scenario/{scenario}", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 202


def wait_rows(url: str, sql: str, expected: list[tuple[object, ...]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline:
        rows = query(url, sql)
        if rows == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"{sql!r} gave {rows}, expected {expected}")


def test_global_daily_loss_reaches_telegram_and_history_then_resolves(
    pipeline: Stack,
    telegram: TelegramStandin,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    play(pipeline, "global_daily_loss")
    firing = telegram.wait_for(lambda m: "GlobalGuard BLOCK" in m.text, 30)
    fired_after = firing.received_at - started

    assert firing.text.startswith("🔴 <b>[P0] GlobalGuard BLOCK</b>")
    assert "Daily Loss: $55000 / $50000 (limit)" in firing.text
    assert "Portfolio Value: $945000 (start: $1000000)" in firing.text
    assert "Action: Trading HALTED until next day" in firing.text
    wait_rows(
        database_url,
        "SELECT severity, source, title, status FROM alert_history "
        "WHERE alertname = 'GlobalGuardDailyLossLimit'",
        [("P0", "RiskGuard", "GlobalGuard BLOCK", "firing")],
        5,
    )

    cleared = time.monotonic()
    play(pipeline, "calm")
    resolved = telegram.wait_for(lambda m: "RESOLVED: GlobalGuard BLOCK" in m.text, 30)
    resolved_after = resolved.received_at - cleared
    assert resolved.reply_to == firing.message_id
    wait_rows(
        database_url,
        "SELECT status, ends_at IS NOT NULL FROM alert_history "
        "WHERE alertname = 'GlobalGuardDailyLossLimit'",
        [("resolved", True)],
        5,
    )
    with capsys.disabled():
        print(
            f"\n[e2e] threshold crossed -> Telegram stand-in: {fired_after:.2f}s; "
            f"condition cleared -> resolved message: {resolved_after:.2f}s"
        )


def test_prometheus_and_alertmanager_show_the_alert(pipeline: Stack) -> None:
    play(pipeline, "global_daily_loss")
    deadline = time.monotonic() + 30
    prom_alerts: list[dict[str, Any]] = []
    am_alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not (prom_alerts and am_alerts):
        with urllib.request.urlopen(f"{pipeline.url('prometheus')}/api/v1/alerts") as r:
            prom_alerts = [
                a
                for a in json.load(r)["data"]["alerts"]
                if a["labels"]["alertname"] == "GlobalGuardDailyLossLimit"
                and a["state"] == "firing"
            ]
        with urllib.request.urlopen(f"{pipeline.url('alertmanager')}/api/v2/alerts") as r:
            am_alerts = [
                a for a in json.load(r) if a["labels"]["alertname"] == "GlobalGuardDailyLossLimit"
            ]
        time.sleep(0.2)
    assert prom_alerts and am_alerts
    assert am_alerts[0]["receivers"][0]["name"] == "d76-p0"
    with urllib.request.urlopen(f"{pipeline.url('prometheus')}/classic/alerts") as r:
        assert "GlobalGuardDailyLossLimit" in r.read().decode()
