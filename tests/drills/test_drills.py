"""Failure drills: break one component at a time in the real pipeline, measure the time until
a notification reaches a person through a path that survives, restore it, check nothing was
lost. (Prometheus and Alertmanager: test_deadman.py; the receiver: test_fallback.py;
PostgreSQL: test_failures.py; one of the HA pair: test_ha.py.) Figures are printed and kept
in docs/OPERABILITY.md."""

from __future__ import annotations

import time

import pytest

from stack.stack import Stack
from tests.support.database import wait_rows
from tests.support.pipeline import play
from tests.support.standins.slack import SlackStandin
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_env(slack: SlackStandin) -> dict[str, str]:
    return {
        "SLACK_WEBHOOK_URL_CRITICAL": slack.url("CRITICAL"),
        "SLACK_WEBHOOK_URL_ALERTS": slack.url("ALERTS"),
    }


def test_failure_drills(
    pipeline: Stack,
    telegram: TelegramStandin,
    slack: SlackStandin,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    measured: dict[str, float] = {}

    # 1. The D75 exporter dies: Prometheus notices, the normal path pages.
    exporter = pipeline.processes["exporter"]
    broken = time.monotonic()
    exporter.stop()
    page = telegram.wait_for(lambda m: "[P1] D75 Exporter Down" in m.text, 110)
    measured["D75 exporter stopped -> Telegram (P1 D75ExporterDown)"] = page.received_at - broken
    exporter.start()
    telegram.wait_for(lambda m: "RESOLVED: D75 Exporter Down" in m.text, 110)

    # 2. The dispatcher dies: nothing is delivered by us; Alertmanager's own sender pages.
    dispatcher = pipeline.processes["dispatcher"]
    broken = time.monotonic()
    dispatcher.stop()
    page = telegram.wait_for(
        lambda m: "Alert Dispatcher Down" in m.text and "sent by Alertmanager directly" in m.text,
        110,
    )
    measured["dispatcher stopped -> Telegram via Alertmanager (D76DispatcherDown)"] = (
        page.received_at - broken
    )
    dispatcher.start()
    telegram.wait_for(lambda m: "<i>D76DispatcherDown" in m.text, 110)  # queued, now delivered

    # 3. The Telegram path answers 5xx: the P0 still reaches Slack #critical at once, and
    #    Telegram gets it when it is back.
    telegram.down_status = 503
    broken = time.monotonic()
    play(pipeline, "global_daily_loss")
    (critical,) = slack.wait_for("CRITICAL", 1, 60)[-1:]
    measured["Telegram answering 503 -> P0 on Slack #critical"] = time.monotonic() - broken
    assert "GlobalGuard BLOCK" in critical["text"]
    telegram.down_status = None
    telegram.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 120)  # retried, delivered
    wait_rows(
        database_url,
        "SELECT count(*) FROM alert_history WHERE alertname = 'GlobalGuardDailyLossLimit'",
        [(1,)],
        10,
    )

    with capsys.disabled():
        print()
        for what, seconds in measured.items():
            print(f"[drill] {what}: {seconds:.1f}s")
    assert all(seconds < 120 for seconds in measured.values()), measured
