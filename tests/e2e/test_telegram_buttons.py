"""Ack and Silence pressed in Telegram (callback queries read through getUpdates), with the
real Alertmanager, receiver, dispatcher and PostgreSQL of the pipeline. (The buttons' rule in
prod, an allow-list or none: tests/unit/test_config.py.)"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from stack.stack import Stack
from tests.support.database import query, wait_rows
from tests.support.payloads import alert, payload
from tests.support.pipeline import play
from tests.support.standins.telegram import SentMessage, TelegramStandin

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
    assert [label for label, _ in firing.buttons] == [
        "✅ Ack",
        "🔕 Silence 1h",
        "🔇 Mute until resolved",
    ]
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
    assert [label for label, _ in current.buttons] == ["🔕 Silence 1h", "🔇 Mute until resolved"]

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


# -- signed and bound callback data -----------------------------------------------------------


def _webhook(stack: Stack, *alerts: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{stack.url('receiver')}/webhook",
        data=json.dumps(payload(*alerts, receiver="d76-p1")).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer e2e-webhook-token"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _two_alerts(stack: Stack, telegram: TelegramStandin) -> tuple[SentMessage, SentMessage]:
    _webhook(
        stack,
        alert(
            "AlertA", severity="P1", fingerprint="00000000000000a1", annotations={"summary": "A"}
        ),
        alert(
            "AlertB", severity="P1", fingerprint="00000000000000b1", annotations={"summary": "B"}
        ),
    )
    a = telegram.wait_for(lambda m: "[P1] A" in m.text, 20)
    b = telegram.wait_for(lambda m: "[P1] B" in m.text, 20)
    return a, b


def _answers(telegram: TelegramStandin, count: int) -> list[str]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(telegram.answers) < count:
        time.sleep(0.05)
    return [str(a.get("text")) for a in telegram.answers]


def test_callback_data_is_signed_and_fits_telegrams_limit(
    pipeline: Stack, telegram: TelegramStandin
) -> None:
    a, _ = _two_alerts(pipeline, telegram)
    for _, data in a.buttons:
        assert len(data.encode()) <= 64
        assert data.count(":") == 2  # action:alert:mac
    forged = dict(a.buttons)["✅ Ack"].rsplit(":", 1)[0] + ":AAAAAAAAAAAAAAAA"
    telegram.press(a, forged, user_id=ALICE)
    assert _answers(telegram, 1) == ["This button has expired."]


def test_forged_data_on_another_alerts_message_changes_nothing(
    pipeline: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    a, b = _two_alerts(pipeline, telegram)
    # B's genuine data (copied by a client) pressed under A's message.
    telegram.press(a, dict(b.buttons)["✅ Ack"], user_id=ALICE)
    telegram.press(a, dict(b.buttons)["🔕 Silence 1h"], user_id=ALICE)
    # A's genuine data pressed under B's message.
    telegram.press(b, dict(a.buttons)["✅ Ack"], user_id=ALICE)
    assert _answers(telegram, 3) == ["Not allowed here."] * 3
    time.sleep(1)
    assert query(database_url, "SELECT count(*) FROM alert_history WHERE acknowledged") == [(0,)]
    assert query(database_url, "SELECT count(*) FROM alert_action") == [(0,)]
    assert _silences(pipeline) == []
    assert all(not m.edits for m in telegram.sent())  # neither message was rewritten


def test_after_garbage_a_valid_press_still_works_within_seconds(
    pipeline: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    a, _ = _two_alerts(pipeline, telegram)
    for garbage in ("ack:²", "ack:", ":", "", "silence:1:" + "x" * 60, "ack:99999999999999999999"):
        telegram.press(a, garbage, user_id=ALICE)
    assert _answers(telegram, 6) == ["This button has expired."] * 6
    started = time.monotonic()
    telegram.press(a, dict(a.buttons)["✅ Ack"], user_id=ALICE)
    _edited(telegram, a, "Acknowledged by @alice")
    assert time.monotonic() - started < 5
    assert _answers(telegram, 7)[-1] == "Acknowledged"
    # Every update was confirmed: the next getUpdates asks past the last one.
    offsets = [int(p.get("offset") or 0) for m, p in telegram.requests if m == "getUpdates"]
    assert max(offsets) == len(telegram.updates) + 1


def test_a_reminder_acknowledges_and_an_earlier_episodes_message_points_to_the_newest(
    pipeline: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    a = alert("AlertA", severity="P1", fingerprint="00000000000000a1", annotations={"summary": "A"})
    _webhook(pipeline, a)
    page = telegram.wait_for(lambda m: "[P1] A" in m.text, 20)
    wait_rows(database_url, "SELECT state FROM notification WHERE target = 'telegram'",
              [("sent",)], 10)  # fmt: skip
    # The P1's escalation timer comes due (30 min in the shipped policy): a reminder.
    query(database_url, "UPDATE escalation SET remind_at = d76_now(), next_at = d76_now()")
    reminder = telegram.wait_for(lambda m: "STILL FIRING: A" in m.text, 20)
    assert reminder.reply_to == page.message_id
    # Pressed once the dispatcher has recorded the message (no one presses within ms).
    wait_rows(database_url, "SELECT state FROM notification WHERE kind = 'reminder'",
              [("sent",)], 10)  # fmt: skip
    telegram.press(reminder, dict(reminder.buttons)["✅ Ack"], user_id=ALICE)
    assert _answers(telegram, 1) == ["Acknowledged"]
    wait_rows(
        database_url,
        "SELECT acknowledged FROM alert_history WHERE alertname = 'AlertA'",
        [(True,)],
        10,
    )

    _webhook(pipeline, {**a, "status": "resolved", "endsAt": "2026-11-24T03:05:00.000Z"})
    _webhook(pipeline, a)  # it fires again: a new episode, paged anew
    telegram.wait_for(lambda m: m.text.startswith("🟠 <b>[P1] A") and m is not page, 20)
    telegram.press(page, dict(page.buttons)["🔕 Silence 1h"], user_id=ALICE)
    assert _answers(telegram, 2)[-1] == "It fired again: use the newest message."
    assert _silences(pipeline) == []


def test_after_a_chat_migration_presses_in_the_new_chat_work(
    pipeline: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    telegram.fail_next(
        1,
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-1009999,
        method="sendMessage",
    )
    _webhook(pipeline, alert("Moved", severity="P1", annotations={"summary": "Moved"}))
    moved = telegram.wait_for(lambda m: "[P1] Moved" in m.text, 20)
    assert moved.chat_id == "-1009999"
    # Pressed once the dispatcher has recorded the message (no one presses within ms).
    wait_rows(database_url, "SELECT state FROM notification WHERE target = 'telegram'",
              [("sent",)], 10)  # fmt: skip
    telegram.press(moved, dict(moved.buttons)["✅ Ack"], user_id=ALICE)
    _edited(telegram, moved, "Acknowledged by @alice")
    wait_rows(database_url, "SELECT count(*) FROM alert_history WHERE acknowledged", [(1,)], 10)


def test_a_press_before_the_dispatcher_recorded_its_message_counts(
    pipeline: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    def press_at_once(message: SentMessage) -> None:
        if "[P1] Quick" in message.text:
            telegram.press(message, dict(message.buttons)["✅ Ack"], user_id=ALICE)
            time.sleep(1.0)  # Telegram's answer, and so the dispatcher's record, comes later

    telegram.on_sent = press_at_once
    _webhook(pipeline, alert("Quick", severity="P1", annotations={"summary": "Quick"}))
    quick = telegram.wait_for(lambda m: "[P1] Quick" in m.text, 20)
    _edited(telegram, quick, "Acknowledged by @alice")
    assert _answers(telegram, 1) == ["Acknowledged"]  # not "Not allowed here."
