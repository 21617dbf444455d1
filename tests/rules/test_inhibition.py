"""Every inhibition of alertmanager.yml, checked in a real Alertmanager: alerts posted to its
API, then the target alert must be suppressed and inhibited by the source, or not."""

from __future__ import annotations

import itertools
import json
import time
import urllib.request
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
CASES = itertools.count(1)


def _post(url: str, *alerts: dict[str, str]) -> None:
    body = json.dumps([{"labels": labels} for labels in alerts]).encode()
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def _state(url: str, labels: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
            for alert in json.load(response):
                if alert["labels"] == labels and alert["status"]["state"] != "unprocessed":
                    return dict(alert["status"])
        time.sleep(0.1)
    raise AssertionError(f"alert {labels} never processed")


def alert(name: str, severity: str, case: str, **scope: str) -> dict[str, str]:
    return {"alertname": name, "severity": severity, "case": case, **scope}


@pytest.mark.parametrize(
    ("source", "target", "inhibited"),
    [
        (
            ("ExchangeHealthFrozen", "P0", {"exchange": "Upbit"}),
            ("ExchangeHealthDown", "P1", {"exchange": "Upbit"}),
            True,
        ),
        (
            ("ExchangeHealthFrozen", "P0", {"exchange": "Upbit"}),
            ("ExchangeHealthDegraded", "P2", {"exchange": "Upbit"}),
            True,
        ),
        (
            ("ExchangeHealthDown", "P1", {"exchange": "Upbit"}),
            ("ExchangeHealthDegraded", "P2", {"exchange": "Upbit"}),
            True,
        ),
        (
            ("ExchangeHealthFrozen", "P0", {"exchange": "Upbit"}),
            ("ExchangeHealthDown", "P1", {"exchange": "Binance"}),
            False,
        ),  # another exchange
        (
            ("ExchangeHealthDown", "P1", {"exchange": "Upbit"}),
            ("ExchangeRestLatencyHigh", "P2", {"exchange": "Upbit"}),
            True,
        ),
        (
            ("ExchangeHealthFrozen", "P0", {"exchange": "Upbit"}),
            ("ExchangeErrorRateHigh", "P2", {"exchange": "Upbit"}),
            True,
        ),
        (
            ("ExchangeHealthDown", "P1", {"exchange": "Upbit"}),
            ("ExchangeOrderbookStale", "P2", {"exchange": "Upbit"}),
            True,
        ),
        (
            ("ExchangeHealthDegraded", "P2", {"exchange": "Upbit"}),
            ("ExchangeOrderbookStale", "P2", {"exchange": "Upbit"}),
            False,
        ),  # only DOWN/FROZEN
        (
            ("GlobalGuardDailyLossLimit", "P0", {}),
            ("ExchangeGuardDailyLoss", "P1", {"exchange": "Upbit"}),
            True,
        ),
        (
            ("GlobalGuardExposureLimit", "P0", {}),
            ("SymbolGuardExposureHigh", "P2", {"symbol": "BTC"}),
            True,
        ),
        (
            ("GlobalGuardExposureLimit", "P0", {}),
            ("CrossSyncExposureHigh", "P1", {"symbol": "BTC"}),
            True,
        ),
        (
            ("GlobalGuardDailyLossLimit", "P0", {}),
            ("SymbolGuardDrawdown", "P1", {"symbol": "BTC"}),
            False,
        ),  # not a loss it subsumes
        (
            ("GlobalGuardDailyLossLimit", "P0", {"engine": "a"}),
            ("ExchangeGuardDailyLoss", "P1", {"engine": "b", "exchange": "Upbit"}),
            False,
        ),  # another engine's halt hides nothing of this one
        (
            ("ExchangeHealthDown", "P1", {"engine": "a", "exchange": "Upbit"}),
            ("ExchangeRestLatencyHigh", "P2", {"engine": "b", "exchange": "Upbit"}),
            False,
        ),  # the same exchange seen by another engine
        (
            ("ExchangeHealthDown", "P1", {"engine": "a", "exchange": "Upbit"}),
            ("ExchangeRestLatencyHigh", "P2", {"engine": "a", "exchange": "Upbit"}),
            True,
        ),
    ],
    ids=lambda v: v[0] if isinstance(v, tuple) else str(v),
)
def test_inhibition(
    alertmanager: str,
    source: tuple[str, str, dict[str, str]],
    target: tuple[str, str, dict[str, str]],
    inhibited: bool,
) -> None:
    # Alerts of earlier cases stay active in the shared Alertmanager: give each case its own
    # exchange/symbol names so that only its own source can inhibit its target.
    case = str(next(CASES))
    source_alert = alert(
        source[0], source[1], case, **{k: f"{v}-{case}" for k, v in source[2].items()}
    )
    target_alert = alert(
        target[0], target[1], case, **{k: f"{v}-{case}" for k, v in target[2].items()}
    )
    _post(alertmanager, source_alert, target_alert)
    deadline = time.monotonic() + 10
    status = _state(alertmanager, target_alert)
    while inhibited and status["state"] != "suppressed" and time.monotonic() < deadline:
        time.sleep(0.1)
        status = _state(alertmanager, target_alert)
    if inhibited:
        assert status["state"] == "suppressed" and status["inhibitedBy"], status
    else:
        time.sleep(1)
        status = _state(alertmanager, target_alert)
        assert status["state"] == "active" and not status["inhibitedBy"], status
