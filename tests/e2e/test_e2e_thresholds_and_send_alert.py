"""Thresholds live in config/thresholds.yml and change alerting without a rule edit or a
restart; send_alert() events travel through a real Alertmanager into the history."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter import D75Exporter
from exporter.config import ExporterSettings, SendAlert
from stack.stack import Stack
from tests.support import REPO
from tests.support.database import query, wait_rows
from tests.support.pipeline import play

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def config_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("config")
    for path in (REPO / "config").glob("*.yml"):
        shutil.copy(path, directory / path.name)
    return directory


@pytest.fixture
def stack_env(config_copy: Path) -> dict[str, str]:
    return {"D76_CONFIG_DIR": str(config_copy)}


def _firing(stack: Stack, alertname: str) -> bool:
    with urllib.request.urlopen(f"{stack.url('prometheus')}/api/v1/alerts", timeout=5) as r:
        alerts = json.load(r)["data"]["alerts"]
    return any(a["labels"]["alertname"] == alertname and a["state"] == "firing" for a in alerts)


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(what)


def test_raising_a_threshold_in_yaml_resolves_the_alert_without_restart(
    pipeline: Stack, config_copy: Path
) -> None:
    play(pipeline, "exchange_guard")  # Upbit daily loss $12,000, threshold $10,000
    _wait(lambda: _firing(pipeline, "ExchangeGuardDailyLoss"), 20, "did not fire at $10,000")
    thresholds = config_copy / "thresholds.yml"
    thresholds.write_text(
        thresholds.read_text().replace(
            "exchange_daily_loss_usd: 10000", "exchange_daily_loss_usd: 15000"
        )
    )
    _wait(
        lambda: not _firing(pipeline, "ExchangeGuardDailyLoss"),
        20,
        "still firing after the threshold was raised to $15,000",
    )
    thresholds.write_text(thresholds.read_text().replace("15000", "11000"))
    _wait(
        lambda: _firing(pipeline, "ExchangeGuardDailyLoss"),
        20,
        "did not fire again when the threshold was lowered to $11,000",
    )
    rules = (REPO / "prometheus" / "rules" / "risk_guard.yml").read_text()
    assert "10000" not in rules and "15000" not in rules  # the number lives in the YAML only


def test_send_alert_reaches_history_through_alertmanager_and_resolves(
    pipeline: Stack, database_url: str
) -> None:
    settings = ExporterSettings(
        symbols=("BTC",),
        send_alert=SendAlert(alertmanager_urls=(pipeline.url("alertmanager"),), resend_seconds=5),
    )
    d75 = D75Exporter(settings, CollectorRegistry())
    try:
        d75.send_alert(
            "P1",
            "CrossSync",
            "Rebalance Failed 3 Times",
            "Symbol: BTC\nLast error: insufficient balance on Binance",
            {"symbol": "BTC", "action": "Rebalance by hand", "attempts": 3},
        )
        wait_rows(
            database_url,
            "SELECT severity, source, title, labels->>'symbol', status FROM alert_history "
            "WHERE alertname = 'RebalanceFailed3Times'",
            [("P1", "CrossSync", "Rebalance Failed 3 Times", "BTC", "firing")],
            20,
        )
        d75.resolve_alert("P1", "CrossSync", "Rebalance Failed 3 Times", "", {"symbol": "BTC"})
        wait_rows(
            database_url,
            "SELECT status FROM alert_history WHERE alertname = 'RebalanceFailed3Times'",
            [("resolved",)],
            20,
        )
        (annotations,) = query(
            database_url,
            "SELECT annotations FROM alert_history WHERE alertname = 'RebalanceFailed3Times'",
        )[0]
        assert annotations["action"] == "Rebalance by hand"  # type: ignore[index]
        assert (
            d75.registry.get_sample_value(
                "d75_exporter_alerts_sent_total", {"alertmanager": pipeline.url("alertmanager")}
            )
            == 2
        )
    finally:
        d75.close()
