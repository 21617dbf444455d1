"""Chat commands typed in Telegram (message updates through getUpdates) against the Telegram
stand-in, PostgreSQL and a real Alertmanager: each command, its answer, bad arguments,
strangers and other chats."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from receiver.web.app import create_app
from tests.e2e.test_mute import LABELS, _am, _fire, _silences
from tests.support.database import query
from tests.support.operator import CHAT, dispatching, operator_settings
from tests.support.standins.telegram import SentMessage, TelegramStandin

MALLORY = 99


@pytest.fixture
def loop(
    database_url: str, telegram: TelegramStandin, alertmanager: str
) -> Iterator[tuple[FlaskClient, TelegramStandin, str]]:
    for old in _silences(alertmanager, "active"):
        _am(alertmanager, f"/api/v2/silence/{old['id']}", method="DELETE")
    settings = operator_settings(
        database_url, telegram, alertmanager=alertmanager, prometheus_url="http://127.0.0.1:9"
    )
    with dispatching(settings, "dispatcher:test", poller=True):
        yield create_app(settings).test_client(), telegram, alertmanager


def _ask(telegram: TelegramStandin, text: str, **who: Any) -> SentMessage:
    asked = telegram.say(text, **who)
    return telegram.wait_for(lambda m: m.reply_to == asked, 15)


def test_alerts_ack_silence_unsilence_and_mute(
    loop: tuple[FlaskClient, TelegramStandin, str], database_url: str
) -> None:
    client, telegram, alertmanager = loop
    assert _ask(telegram, "/alerts").text == "✅ Nothing fires now."
    _fire(client, alertmanager)
    listing = _ask(telegram, "/alerts").text
    assert listing.startswith("<b>1 firing</b>\n🔴 [P0] #1 GlobalGuard BLOCK · since ")

    assert _ask(telegram, "/ack 1").text == "✅ #1 GlobalGuard BLOCK: acknowledged."
    assert query(database_url, "SELECT acknowledged_by FROM alert_history") == [
        ("telegram:@alice",)
    ]
    assert _ask(telegram, "/ack 1").text == "#1 was already acknowledged."
    assert _ask(telegram, "/ack 7").text == "there is no alert #7 (see /alerts)"

    answer = _ask(telegram, "/silence 1 2h").text
    assert answer.startswith("🔕 #1 GlobalGuard BLOCK: silenced until ")
    (silence,) = _silences(alertmanager, "active")
    assert {m["name"]: m["value"] for m in silence["matchers"]} == LABELS
    assert query(database_url, "SELECT state FROM escalation") == [("silenced",)]
    assert "ack telegram:@alice · silenced" in _ask(telegram, "/alerts").text

    assert _ask(telegram, "/unsilence 1").text == "🔔 #1 GlobalGuard BLOCK: 1 silence(s) lifted."
    assert _silences(alertmanager, "active") == []
    assert _ask(telegram, "/unsilence 1").text == "#1 has no silence of its own."

    assert _ask(telegram, "/mute 1 until-resolved").text == (
        "🔇 #1 GlobalGuard BLOCK: muted until it resolves."
    )
    assert query(database_url, "SELECT state, created_by FROM mute") == [
        ("active", "telegram:@alice")
    ]
    actions = [a for (a,) in query(database_url, "SELECT action FROM alert_action ORDER BY id")]
    assert actions == ["ack", "silence", "unsilence", "mute"]


def test_maintenance_status_help_and_bad_arguments(
    loop: tuple[FlaskClient, TelegramStandin, str],
) -> None:
    _, telegram, alertmanager = loop
    answer = _ask(telegram, "/maintenance Upbit 90m wallet upgrade").text
    assert answer.startswith("🛠 Maintenance of Upbit until ")
    assert "every alert with exchange=Upbit is silenced (wallet upgrade)" in answer
    (silence,) = _silences(alertmanager, "active")
    assert [(m["name"], m["value"]) for m in silence["matchers"]] == [("exchange", "Upbit")]
    assert silence["comment"] == "Maintenance of Upbit: wallet upgrade (from Telegram)"

    status = _ask(telegram, "/status").text.split("\n")
    assert status[0] == "<b>d76-alerting status</b>"
    assert status[1].startswith("Prometheus: down (")
    assert status[2] == "Alertmanager: up"
    assert status[3] == "Dispatchers alive: 1"
    assert status[4] == "Oldest undelivered notification: none"
    assert status[5] == "Last Watchdog: never"

    assert "/maintenance &lt;exchange&gt; &lt;duration&gt; [reason]" in _ask(telegram, "/help").text
    assert _ask(telegram, "/silence 1 forever").text == (
        "'forever' is not a duration: say 30m, 2h or 1d"
    )
    assert _ask(telegram, "/nope").text.startswith("unknown command /nope\nCommands:")


def test_strangers_are_refused_other_chats_ignored_and_topics_answered_in_place(
    loop: tuple[FlaskClient, TelegramStandin, str],
) -> None:
    _, telegram, _ = loop
    refused = _ask(telegram, "/ack 1", user_id=MALLORY, username="mallory")
    assert refused.text.startswith("Not allowed")
    telegram.chat_ids.add("-100555")
    telegram.say("/alerts", chat_id="-100555")
    in_topic = _ask(telegram, "/alerts", thread_id=7)
    assert in_topic.thread_id == 7 and in_topic.chat_id == CHAT
    time.sleep(1)
    assert not [m for m in telegram.sent() if m.chat_id == "-100555"]  # no answer elsewhere
