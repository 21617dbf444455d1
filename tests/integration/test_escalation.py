"""The escalation policy against real PostgreSQL, the Telegram stand-in (two chats) and the
Slack stand-in: reminders as replies, the escalation, reminders stopping on an ack, an
expired ack reminding again, each step once with two dispatchers, and the lifecycle (API,
/metrics) showing every step. Timers are shortened to seconds (minutes as fractions)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from receiver import config, store
from receiver.store import escalation
from receiver.web.app import create_app
from tests.support.database import query
from tests.support.operator import (
    CHAT,
    ESCALATE,
    ESCALATION_CHAT,
    EXPIRES,
    REMIND,
    dispatching,
    operator_settings,
)
from tests.support.payloads import alert, payload
from tests.support.standins.slack import SlackStandin
from tests.support.standins.telegram import SentMessage, TelegramStandin


def _settings(
    url: str, telegram: TelegramStandin, slack: SlackStandin, **p0: object
) -> config.Settings:
    return operator_settings(url, telegram, slack, p0=p0)


@pytest.fixture
def two_chats() -> Iterator[TelegramStandin]:
    standin = TelegramStandin(chat_ids=(CHAT, ESCALATION_CHAT)).start()
    yield standin
    standin.stop()


def _fire(client: FlaskClient, *alerts: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload(*(alerts or (alert(),))))
    response = client.post("/webhook", data=body, content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def _alert_id(url: str) -> int:
    return int(str(query(url, "SELECT id FROM alert_history ORDER BY id DESC LIMIT 1")[0][0]))


def _reminders(telegram: TelegramStandin) -> list[SentMessage]:
    return [m for m in telegram.sent() if "STILL FIRING" in m.text]


def _metric(client: FlaskClient, line_start: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {line_start} in /metrics")


def test_an_unacknowledged_p0_is_reminded_as_a_reply_then_escalated(
    database_url: str, two_chats: TelegramStandin, slack: SlackStandin
) -> None:
    settings = _settings(database_url, two_chats, slack)
    client = create_app(settings).test_client()
    reminded_before = _metric(client, 'd76_receiver_escalation_steps_total{step="reminder"}')
    assert _fire(client)["escalations"] == 1
    with dispatching(settings):
        page = two_chats.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 10)
        reminder = two_chats.wait_for(lambda m: "STILL FIRING" in m.text, REMIND + 5)
        escalated = two_chats.wait_for(lambda m: "ESCALATED" in m.text, ESCALATE + 5)
        slack.wait_for("critical", 2, 10)  # the page, then the escalation
    assert page.chat_id == CHAT and reminder.chat_id == CHAT
    assert reminder.reply_to == page.message_id  # a reply to the page, in its thread
    assert reminder.text.startswith("🔁 <b>[P0] STILL FIRING: GlobalGuard BLOCK</b>")
    assert [label for label, _ in reminder.buttons] == [
        "✅ Ack",
        "🔕 Silence 1h",
        "🔇 Mute until resolved",
    ]
    assert escalated.chat_id == ESCALATION_CHAT and escalated.reply_to is None
    assert escalated.text.startswith("📣 <b>[P0] ESCALATED: GlobalGuard BLOCK</b>")
    assert "Not acknowledged in time: escalated\nAttention: @d76_lead" in escalated.text
    assert escalated.buttons, "Ack works from the escalation chat too"
    slack_text = json.dumps(slack.received("critical")[-1])
    assert "ESCALATED" in slack_text and "<@U024BE7LH>" in slack_text
    assert len([m for m in two_chats.sent() if "ESCALATED" in m.text]) == 1  # once

    alert_id = _alert_id(database_url)
    detail = client.get(f"/api/v1/alerts/{alert_id}").get_json()
    kinds = [(n["kind"], n["target"], n["state"]) for n in detail["notifications"]]
    assert ("reminder", "telegram", "sent") in kinds
    assert ("escalation", "telegram_escalation", "sent") in kinds
    assert ("escalation", "slack_critical", "sent") in kinds
    assert detail["escalation"]["state"] == "waiting"
    assert detail["escalation"]["reminders"] >= 1 and detail["escalation"]["escalated_at"]
    assert [a["action"] for a in detail["actions"]] == ["escalate"]
    page_html = client.get(f"/history/{alert_id}").get_data(as_text=True)
    assert "reminder → telegram: sent" in page_html and "escalate" in page_html
    after = _metric(client, 'd76_receiver_escalation_steps_total{step="reminder"}')
    assert after - reminded_before >= 1
    assert _metric(client, 'd76_receiver_escalation_timers{state="waiting"}') == 1


def test_reminders_stop_on_ack_and_the_timer_ends_with_the_resolve(
    database_url: str, two_chats: TelegramStandin, slack: SlackStandin
) -> None:
    settings = _settings(database_url, two_chats, slack)
    client = create_app(settings).test_client()
    _fire(client)
    with dispatching(settings):
        two_chats.wait_for(lambda m: "STILL FIRING" in m.text, REMIND + 5)
        alert_id = _alert_id(database_url)
        acked = client.post(f"/api/v1/alerts/{alert_id}/ack", json={"by": "alice"})
        assert acked.status_code == 200
        told = len(_reminders(two_chats))
        time.sleep(ESCALATE + 1)  # past two more periods and the escalation
        assert len(_reminders(two_chats)) == told
        assert not [m for m in two_chats.sent() if "ESCALATED" in m.text]
        assert query(database_url, "SELECT state, resume_at FROM escalation") == [
            ("acknowledged", None)  # no expiry configured: it holds until the resolve
        ]
        _fire(client, alert(status="resolved"))
        two_chats.wait_for(lambda m: "RESOLVED" in m.text, 10)
    assert query(database_url, "SELECT state, next_at FROM escalation") == [("done", None)]
    assert _metric(client, 'd76_receiver_escalation_timers{state="waiting"}') == 0


def test_an_expired_ack_makes_the_alert_unacknowledged_and_reminds_again(
    database_url: str, two_chats: TelegramStandin, slack: SlackStandin
) -> None:
    settings = _settings(
        database_url, two_chats, slack, ack_expires_minutes=EXPIRES / 60,
        escalate_after_minutes=None, escalate_to=[],
    )  # fmt: skip
    client = create_app(settings).test_client()
    _fire(client)
    alert_id = _alert_id(database_url)
    with dispatching(settings):
        page = two_chats.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 10)
        acked = client.post(f"/api/v1/alerts/{alert_id}/ack", json={"by": "alice"})
        assert acked.status_code == 200
        started = time.monotonic()
        reminder = two_chats.wait_for(lambda m: "STILL FIRING" in m.text, EXPIRES + 5)
        waited = time.monotonic() - started
    assert waited > EXPIRES - 2  # not before the ack ran out
    assert reminder.reply_to == page.message_id
    assert "✅ Ack" in dict(reminder.buttons)  # it can be acknowledged again
    assert query(database_url, "SELECT acknowledged, acknowledged_by FROM alert_history") == [
        (False, None)
    ]
    detail = client.get(f"/api/v1/alerts/{alert_id}").get_json()
    actions = [(a["action"], a["actor"]) for a in detail["actions"]]
    assert actions == [("ack", "alice"), ("ack-expired", "escalation")]
    assert detail["actions"][1]["detail"]["acknowledged_by"] == "alice"
    assert detail["escalation"]["ack_expiries"] == 1
    assert detail["escalation"]["state"] == "waiting"


def test_the_timers_survive_a_restart_and_two_dispatchers_take_each_step_once(
    database_url: str, two_chats: TelegramStandin, slack: SlackStandin
) -> None:
    settings = _settings(database_url, two_chats, slack, remind_every_minutes=10.0)
    client = create_app(settings).test_client()
    _fire(client)
    with dispatching(settings, "A"):  # delivers the page, then "dies" before any step is due
        two_chats.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 10)
    query(database_url, "UPDATE escalation SET remind_at = d76_now(), next_at = d76_now()")
    conns = [store.connect(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(conns))
    queued: list[int] = []

    def race(conn: store.Connection) -> None:
        barrier.wait()
        for _ in range(10):
            queued.append(escalation.advance_due(conn, retry_for_seconds=3600).reminders)

    threads = [threading.Thread(target=race, args=(c,)) for c in conns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for conn in conns:
        conn.close()
    assert sum(queued) == 1, "one due step, taken once"
    with dispatching(settings, "B"):  # a new dispatcher delivers what the timer queued
        reminder = two_chats.wait_for(lambda m: "STILL FIRING" in m.text, 10)
    assert reminder.reply_to is not None
    (next_at,) = query(database_url, "SELECT remind_at - d76_now() FROM escalation")[0]
    assert 500 < next_at.total_seconds() <= 600  # type: ignore[attr-defined]
