"""Two D75 engines scraped by one Prometheus, end to end through the real binaries: each
alerts on its own, with its own figures, its own engine name, its own group, and resolves on
its own."""

from __future__ import annotations

import pytest

from stack.render import SECOND_ENGINE
from stack.stack import Stack
from tests.support.database import query, wait_rows
from tests.support.pipeline import play
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e


@pytest.fixture
def engines() -> int:
    return 2


def test_two_engines_alert_independently_with_their_own_numbers(
    pipeline: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    play(pipeline, "global_daily_loss")  # engine d75: $55,000, portfolio $945,000
    play(pipeline, "global_daily_loss_large", exporter="exporter2")  # d75-2: $72,000, $928,000

    first = telegram.wait_for(
        lambda m: "GlobalGuard BLOCK" in m.text and "Engine: d75\n" in m.text, 30
    )
    second = telegram.wait_for(
        lambda m: "GlobalGuard BLOCK" in m.text and f"Engine: {SECOND_ENGINE}\n" in m.text, 30
    )
    assert first.message_id != second.message_id  # one group, one message per engine
    assert "Daily Loss: $55,000 / $50,000 (limit)" in first.text
    assert "Portfolio Value: $945,000 (start: $1,000,000)" in first.text
    assert "Daily Loss: $72,000 / $50,000 (limit)" in second.text
    assert "Portfolio Value: $928,000 (start: $1,000,000)" in second.text
    for text in (first.text, second.text):  # never the other engine's figures
        assert ("$55,000" in text) != ("$72,000" in text)
        assert ("$945,000" in text) != ("$928,000" in text)

    wait_rows(
        database_url,
        "SELECT labels->>'engine', status FROM alert_history "
        "WHERE alertname = 'GlobalGuardDailyLossLimit' ORDER BY labels->>'engine'",
        [("d75", "firing"), (SECOND_ENGINE, "firing")],
        10,
    )

    # The first engine recovers; the second keeps firing.
    play(pipeline, "calm")
    resolved = telegram.wait_for(lambda m: "RESOLVED: GlobalGuard BLOCK" in m.text, 30)
    assert resolved.reply_to == first.message_id
    wait_rows(
        database_url,
        "SELECT labels->>'engine', status FROM alert_history "
        "WHERE alertname = 'GlobalGuardDailyLossLimit' ORDER BY labels->>'engine'",
        [("d75", "resolved"), (SECOND_ENGINE, "firing")],
        10,
    )
    rows = query(
        database_url,
        "SELECT message FROM alert_history WHERE alertname = 'GlobalGuardDailyLossLimit' "
        "AND labels->>'engine' = %s",
        (SECOND_ENGINE,),
    )
    assert "Daily Loss: $72,000 / $50,000 (limit)" in str(rows[0][0])
