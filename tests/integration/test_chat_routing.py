"""Routing to chats and forum topics: a P0 goes to the risk desk's chat, in its topic, its
reminders follow it there; buttons and commands work in that chat under its own allowlist;
an alert the table does not match goes to the default chat."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from receiver.web.app import create_app
from tests.support.database import query, wait_rows
from tests.support.operator import ALICE, CHAT, REMIND, dispatching, operator_settings
from tests.support.payloads import alert, payload
from tests.support.standins.telegram import TelegramStandin

RISK_CHAT, RISK_TOPIC, RISK_LEAD = "-1002222", 12, 777


@pytest.fixture
def chats() -> Iterator[TelegramStandin]:
    standin = TelegramStandin(chat_ids=(CHAT, "-100888", RISK_CHAT)).start()
    yield standin
    standin.stop()


def _fire(client: FlaskClient, receiver: str, *alerts: dict[str, Any]) -> None:
    body = json.dumps(payload(*alerts, receiver=receiver))
    assert client.post("/webhook", data=body, content_type="application/json").status_code == 200


def _answers(telegram: TelegramStandin, count: int) -> list[str]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(telegram.answers) < count:
        time.sleep(0.05)
    return [str(a.get("text")) for a in telegram.answers]


def test_a_p0_goes_to_the_risk_desks_topic_with_its_reminders_buttons_and_commands(
    database_url: str, chats: TelegramStandin
) -> None:
    settings = operator_settings(
        database_url, chats,
        p0={"escalate_after_minutes": None, "escalate_to": []},
        telegram_extra={"chats": {"risk": {"chat_id": RISK_CHAT, "topic": RISK_TOPIC,
                                           "allowed_user_ids": [RISK_LEAD]}}},
        routing={
            "receivers": {"d76-p0": ["telegram"], "d76-p1": ["telegram"]},
            "table": [{"match": {"severity": "P0"}, "telegram": "risk"}],
        },
    )  # fmt: skip
    client = create_app(settings).test_client()
    _fire(client, "d76-p0", alert())
    _fire(client, "d76-p1", alert("ExchangeHealthDown", severity="P1", fingerprint="e" * 16,
                                  annotations={"summary": "Upbit DOWN"}))  # fmt: skip
    with dispatching(settings, poller=True):
        page = chats.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 10)
        other = chats.wait_for(lambda m: "Upbit DOWN" in m.text, 10)
        reminder = chats.wait_for(lambda m: "STILL FIRING" in m.text, REMIND + 5)
        wait_rows(database_url, "SELECT count(*) FROM notification WHERE state = 'sent' "
                  "AND kind = 'reminder'", [(1,)], 10)  # fmt: skip
        assert (page.chat_id, page.thread_id) == (RISK_CHAT, RISK_TOPIC)
        assert (other.chat_id, other.thread_id) == (CHAT, None)
        assert (reminder.chat_id, reminder.thread_id) == (RISK_CHAT, RISK_TOPIC)
        assert reminder.reply_to == page.message_id

        ack = dict(page.buttons)["✅ Ack"]
        chats.press(page, ack, user_id=ALICE)  # allowed globally, not in the risk chat
        assert _answers(chats, 1) == ["Not allowed here."]
        chats.press(page, ack, user_id=RISK_LEAD, username="lead")
        assert _answers(chats, 2)[-1] == "Acknowledged"
        wait_rows(database_url, "SELECT acknowledged_by FROM alert_history WHERE severity = 'P0'",
                  [("telegram:@lead",)], 10)  # fmt: skip

        asked = chats.say("/alerts", chat_id=RISK_CHAT, user_id=RISK_LEAD, username="lead",
                          thread_id=RISK_TOPIC)  # fmt: skip
        listing = chats.wait_for(lambda m: m.reply_to == asked, 10)
        assert (listing.chat_id, listing.thread_id) == (RISK_CHAT, RISK_TOPIC)
        assert "2 firing" in listing.text
        refused = chats.say("/alerts", chat_id=RISK_CHAT, user_id=ALICE, thread_id=RISK_TOPIC)
        assert chats.wait_for(lambda m: m.reply_to == refused, 10).text.startswith("Not allowed")
    targets = query(database_url, "SELECT DISTINCT target FROM notification ORDER BY 1")
    assert targets == [("telegram",), ("telegram_risk",)]
