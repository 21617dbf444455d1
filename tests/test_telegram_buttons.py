"""Ack and Silence pressed in Telegram (callback queries read through getUpdates), with the
real Alertmanager, receiver, dispatcher and PostgreSQL of the pipeline."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from stack.stack import Stack
from tests.conftest import play, query, wait_rows
from tests.standins.telegram import SentMessage, TelegramStandin

pytestmark = pytest.mark.e2e
ALICE, MALLORY = 4242, 99


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"TELEGRAM_ALLOWED_USER_IDS": str(ALICE)}  # only alice may press


def _edited(telegram: TelegramStandin, message: SentMessage, text: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        current = next(m for m in telegram.sent() if m.message_id == message.message_id)
        if current.edits and text in current.edits[-1]:
            return current.edits[-1]
        time.sleep(0.1)
    raise AssertionError(f"message {message.message_id} never edited to say {text!r}")


def _silences(stack: Stack) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{stack.url('alertmanager')}/api/v2/silences", timeout=5) as r:
        return [s for s in json.load(r) if s["status"]["state"] == "active"]


def test_ack_marks_history_and_edits_the_message_and_the_resolve_still_arrives(
    pipeline: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    play(pipeline, "global_daily_loss")
    firing = telegram.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 30)
    assert [label for label, _ in firing.buttons] == ["✅ Ack", "🔕 Silence 1h"]
    ack = dict((label, data) for label, data in firing.buttons)["✅ Ack"]

    telegram.press(firing, ack, user_id=MALLORY, username="mallory")  # not on the allow-list
    telegram.press(firing, ack, user_id=ALICE, username="alice")
    edited = _edited(telegram, firing, "Acknowledged by @alice")
    assert edited.startswith("🔴 <b>[P0] GlobalGuard BLOCK</b>")
    wait_rows(
        database_url,
        "SELECT acknowledged, acknowledged_by FROM alert_history "
        "WHERE alertname = 'GlobalGuardDailyLossLimit'",
        [(True, "telegram:@alice")],
        10,
    )
    assert [a.get("text") for a in telegram.answers] == ["Not allowed here.", "Acknowledged"]
    current = next(m for m in telegram.sent() if m.message_id == firing.message_id)
    assert [label for label, _ in current.buttons] == ["🔕 Silence 1h"]  # Ack is done

    play(pipeline, "calm")  # an ack is not a silence: the resolution still arrives
    resolved = telegram.wait_for(lambda m: "RESOLVED: GlobalGuard BLOCK" in m.text, 30)
    assert resolved.reply_to == firing.message_id
    assert _silences(pipeline) == []


def test_silence_creates_an_alertmanager_silence_on_the_exact_labels(
    pipeline: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    play(pipeline, "global_daily_loss")
    firing = telegram.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 30)
    silence = dict(firing.buttons)["🔕 Silence 1h"]
    telegram.press(firing, silence, user_id=ALICE, username="alice")
    _edited(telegram, firing, "Silenced by @alice")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _silences(pipeline):
        time.sleep(0.2)
    (created,) = _silences(pipeline)
    (labels,) = query(
        database_url,
        "SELECT labels FROM alert_history WHERE alertname = 'GlobalGuardDailyLossLimit'",
    )[0:1][0]
    matchers = {m["name"]: m["value"] for m in created["matchers"]}
    assert matchers == labels
    assert all(m["isEqual"] and not m["isRegex"] for m in created["matchers"])
    assert created["createdBy"] == "telegram:@alice"
    assert query(database_url, "SELECT action, actor FROM alert_action") == [
        ("silence", "telegram:@alice")
    ]
    answers = [a.get("text") for a in telegram.answers]
    assert any(str(text).startswith("Silenced until") for text in answers)
