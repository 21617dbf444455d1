"""Failure drill: the receiver dies. Alertmanager's own Telegram sender (d76-fallback) pages,
without our code, and the history gets the alert once the receiver is back."""

from __future__ import annotations

import time

import pytest

from stack.stack import Stack
from tests.support.database import wait_rows
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e


def test_a_dead_receiver_is_announced_by_alertmanager_itself(
    pipeline: Stack,
    telegram: TelegramStandin,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    receiver = pipeline.processes["receiver"]
    killed = time.monotonic()
    receiver.stop()
    page = telegram.wait_for(
        lambda m: "Alert Receiver Down" in m.text and "sent by Alertmanager directly" in m.text,
        110,
    )
    took = page.received_at - killed
    assert page.text.startswith("🔴 <b>[P1] Alert Receiver Down</b>")
    assert page.parse_mode == "HTML"

    receiver.start()  # back: Alertmanager's retries bring the alert into the history too
    telegram.wait_for(lambda m: "RESOLVED: Alert Receiver Down" in m.text, 110)
    wait_rows(
        database_url,
        "SELECT count(*) FROM alert_history WHERE alertname = 'D76ReceiverDown'",
        [(1,)],
        60,
    )
    with capsys.disabled():
        print(f"\n[drill] receiver stopped -> fallback page from Alertmanager: {took:.1f}s")
    assert took < 120
