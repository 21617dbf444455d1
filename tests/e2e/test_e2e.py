"""End to end through real binaries: simulator -> exporter -> Prometheus -> Alertmanager ->
receiver -> PostgreSQL, and dispatcher -> the Telegram stand-in."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from stack.stack import Stack
from tests.support.database import wait_rows
from tests.support.pipeline import play
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e


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
    assert "Daily Loss: $55,000 / $50,000 (limit)" in firing.text
    assert "Portfolio Value: $945,000 (start: $1,000,000)" in firing.text
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
