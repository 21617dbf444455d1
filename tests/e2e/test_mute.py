"""Mute until resolved, against a real Alertmanager: the button creates a silence on the alert's
exact labels, no reminder comes while it holds, the resolve that Alertmanager does not tell
(the alert is silenced) is learnt by polling it and recorded, and the silence is expired."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from receiver.web.app import create_app
from tests.support.database import query, wait_rows
from tests.support.operator import ALICE, CHAT, REMIND, dispatching, operator_settings
from tests.support.payloads import payload
from tests.support.standins.telegram import SentMessage, TelegramStandin

LABELS = {
    "alertname": "GlobalGuardDailyLossLimit", "severity": "P0", "source": "RiskGuard",
    "tier": "GlobalGuard", "job": "d75", "instance": "127.0.0.1:9108",
}  # fmt: skip
MUTE = "🔇 Mute until resolved"


def _am(url: str, path: str, body: Any = None, method: str = "GET") -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def _post_to_alertmanager(url: str, ends: datetime) -> None:
    iso = ends.isoformat().replace("+00:00", "Z")
    alert = {"labels": LABELS, "annotations": {"summary": "GlobalGuard BLOCK"}, "endsAt": iso}
    _am(url, "/api/v2/alerts", [{**alert, "startsAt": "2026-11-28T00:00:00Z"}], "POST")


def _fire(client: FlaskClient, alertmanager: str) -> None:
    """The alert in Alertmanager, and its webhook to the receiver (as Alertmanager sends it)."""
    _post_to_alertmanager(alertmanager, datetime.now(UTC) + timedelta(hours=1))
    deadline = time.monotonic() + 10
    held: list[dict[str, Any]] = []
    while not held and time.monotonic() < deadline:
        held = [a for a in _am(alertmanager, "/api/v2/alerts") if a["labels"] == LABELS]
        time.sleep(0.1)
    (am_alert,) = held
    body = payload(
        {
            "status": "firing", "labels": LABELS, "annotations": am_alert["annotations"],
            "startsAt": am_alert["startsAt"], "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "", "fingerprint": am_alert["fingerprint"],
        }
    )  # fmt: skip
    response = client.post("/webhook", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200


def _silences(alertmanager: str, state: str) -> list[dict[str, Any]]:
    return [s for s in _am(alertmanager, "/api/v2/silences") if s["status"]["state"] == state]


def _answers(telegram: TelegramStandin, count: int) -> list[str]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(telegram.answers) < count:
        time.sleep(0.05)
    return [str(a.get("text")) for a in telegram.answers]


def _mute(telegram: TelegramStandin, database_url: str) -> SentMessage:
    page = telegram.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 10)
    assert [label for label, _ in page.buttons][-1] == MUTE
    # Pressed at once: a press that beats the dispatcher's record of the page waits for it.
    telegram.press(page, dict(page.buttons)[MUTE], user_id=ALICE)
    assert _answers(telegram, 1) == ["Muted until resolved"]
    return page


def test_mute_until_resolved_learns_the_silent_resolve_and_expires_the_silence(
    database_url: str, telegram: TelegramStandin, alertmanager: str
) -> None:
    settings = operator_settings(database_url, telegram, alertmanager=alertmanager)
    client = create_app(settings).test_client()
    _fire(client, alertmanager)
    with dispatching(settings, poller=True):
        page = _mute(telegram, database_url)
        (silence,) = _silences(alertmanager, "active")
        matchers = {m["name"]: m["value"] for m in silence["matchers"]}
        assert matchers == LABELS and all(m["isEqual"] for m in silence["matchers"])
        assert silence["createdBy"] == "telegram:@alice"
        ends = datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00"))
        assert ends > datetime.now(UTC) + timedelta(days=29)  # the backstop: mute.max_days
        edited = next(m for m in telegram.sent() if m.message_id == page.message_id)
        assert "🔇 Muted until resolved by @alice" in edited.edits[-1]
        assert MUTE not in dict(edited.buttons)
        assert query(database_url, "SELECT state, resume_at FROM escalation") == [
            ("silenced", None)
        ]
        time.sleep(REMIND * 2)  # two reminder periods: muted, so none
        assert not [m for m in telegram.sent() if "STILL FIRING" in m.text]

        # It resolves. Alertmanager tells nobody (silenced); the poll learns it.
        _post_to_alertmanager(alertmanager, datetime.now(UTC) - timedelta(seconds=1))
        resolved = telegram.wait_for(lambda m: "RESOLVED: GlobalGuard BLOCK" in m.text, 20)
        wait_rows(database_url, "SELECT state FROM mute", [("expired",)], 10)
    assert resolved.reply_to == page.message_id
    assert query(database_url, "SELECT status FROM alert_history") == [("resolved",)]
    assert query(database_url, "SELECT state FROM escalation") == [("done",)]
    assert [s["id"] for s in _silences(alertmanager, "expired")] == [silence["id"]]
    assert _silences(alertmanager, "active") == []
    actions = query(database_url, "SELECT action, actor FROM alert_action ORDER BY id")
    assert actions == [("mute", "telegram:@alice"), ("unmute", "receiver")]


def test_a_resolve_that_arrives_by_webhook_expires_the_mutes_silence(
    database_url: str, telegram: TelegramStandin, alertmanager: str
) -> None:
    for old in _silences(alertmanager, "active"):
        _am(alertmanager, f"/api/v2/silence/{old['id']}", method="DELETE")
    settings = operator_settings(database_url, telegram, alertmanager=alertmanager)
    client = create_app(settings).test_client()
    _fire(client, alertmanager)
    with dispatching(settings, poller=True):
        _mute(telegram, database_url)
        (silence,) = _silences(alertmanager, "active")
        sql = "SELECT fingerprint, starts_at FROM alert_history"
        (fingerprint, starts) = query(database_url, sql)[0]
        body = payload(
            {
                "status": "resolved", "labels": LABELS, "annotations": {"summary": "x"},
                "startsAt": starts.isoformat(),  # type: ignore[attr-defined]
                "endsAt": datetime.now(UTC).isoformat(), "generatorURL": "",
                "fingerprint": fingerprint,
            }
        )  # fmt: skip
        assert client.post("/webhook", json=body).status_code == 200
        wait_rows(database_url, "SELECT state FROM mute", [("expired",)], 10)
    assert silence["id"] in [s["id"] for s in _silences(alertmanager, "expired")]
    assert _silences(alertmanager, "active") == []


def test_a_resolve_learnt_by_polling_goes_to_the_chat_the_page_was_routed_to(
    database_url: str, alertmanager: str
) -> None:
    risk_chat = "-1002222"
    chats = TelegramStandin(chat_ids=(CHAT, "-100888", risk_chat)).start()
    try:
        settings = operator_settings(
            database_url, chats, alertmanager=alertmanager,
            telegram_extra={"chats": {"risk": {"chat_id": risk_chat, "allowed_user_ids": [ALICE]}}},
            routing={"receivers": {"d76-p0": ["telegram"]},
                     "table": [{"match": {"severity": "P0"}, "telegram": "risk"}]},
        )  # fmt: skip
        client = create_app(settings).test_client()
        _fire(client, alertmanager)
        with dispatching(settings, poller=True):
            page = _mute(chats, database_url)
            assert page.chat_id == risk_chat
            _post_to_alertmanager(alertmanager, datetime.now(UTC) - timedelta(seconds=1))
            resolved = chats.wait_for(lambda m: "RESOLVED: GlobalGuard BLOCK" in m.text, 20)
        assert (resolved.chat_id, resolved.reply_to) == (risk_chat, page.message_id)
    finally:
        chats.stop()
