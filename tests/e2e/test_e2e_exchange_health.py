"""The seed's exchange escalation through real Prometheus and Alertmanager: the operator is
told P2, then P1, then P0, and inhibition keeps the lesser alerts quiet while FROZEN holds."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from stack.stack import Stack
from tests.support.pipeline import play
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e
SPEED = 5.0  # the scenario's 20 s steps take 4 s


@pytest.fixture
def speed() -> float:
    return SPEED


def _am_alerts(stack: Stack) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{stack.url('alertmanager')}/api/v2/alerts", timeout=5) as r:
        return list(json.load(r))


def test_degraded_down_frozen_escalate_and_frozen_inhibits_the_rest(
    pipeline: Stack, telegram: TelegramStandin
) -> None:
    play(pipeline, "exchange_health")
    degraded = telegram.wait_for(lambda m: "[P2] Exchange Health DEGRADED" in m.text, 30)
    down = telegram.wait_for(lambda m: "[P1] Exchange Health DOWN" in m.text, 30)
    frozen = telegram.wait_for(lambda m: "[P0] Exchange Health FROZEN" in m.text, 30)
    assert degraded.message_id < down.message_id < frozen.message_id
    assert all("Exchange: Upbit" in m.text for m in (degraded, down, frozen))

    # While FROZEN holds, the stale orderbook of the same exchange is inhibited, not sent.
    deadline = time.monotonic() + 15
    stale: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not stale:
        stale = [
            a for a in _am_alerts(pipeline) if a["labels"]["alertname"] == "ExchangeOrderbookStale"
        ]
        time.sleep(0.3)
    assert stale, "the orderbook never went stale in Alertmanager"
    status = stale[0]["status"]
    assert status["state"] == "suppressed"
    assert status["inhibitedBy"]

    healthy = telegram.wait_for(lambda m: "RESOLVED: Exchange Health FROZEN" in m.text, 40)
    assert healthy.reply_to == frozen.message_id
    time.sleep(3)  # anything wrongly released by the end of the inhibition would arrive now
    sent = [m.text for m in telegram.sent() if m.photo is None]  # the pages, not their graphs
    assert not any("Orderbook Stale" in text for text in sent), sent
    assert sum("[P0] Exchange Health FROZEN" in text for text in sent) == 1
