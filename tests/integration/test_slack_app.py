"""Slack in app mode against a stand-in of the Web API and Socket Mode: chat.postMessage with
buttons, a 429 waited out, Ack pressed over Socket Mode (a stranger refused), the message
updated, and the resolve threaded under the alert's message, which says it resolved."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from receiver import store
from receiver.channels.slack_socket import SlackActions
from receiver.store import graphs
from receiver.web.app import create_app
from tests.support.database import query, wait_rows
from tests.support.operator import dispatching, operator_settings
from tests.support.payloads import alert, payload
from tests.support.standins.slack_app import (
    APP_TOKEN,
    BOT_TOKEN,
    CRITICAL,
    SlackAppStandin,
)
from tests.support.standins.telegram import TelegramStandin

ALICE, MALLORY = "U0ALICE", "U0MALLORY"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # the upload carries any bytes exactly


@pytest.fixture
def slack_app() -> Iterator[SlackAppStandin]:
    standin = SlackAppStandin().start()
    yield standin
    standin.stop()


def _post(client: FlaskClient, status: str = "firing") -> None:
    body = json.dumps(payload(alert(status=status)))
    assert client.post("/webhook", data=body, content_type="application/json").status_code == 200


def test_app_mode_posts_with_buttons_acks_over_socket_mode_and_threads_the_resolve(
    database_url: str, telegram: TelegramStandin, slack_app: SlackAppStandin
) -> None:
    settings = operator_settings(
        database_url, telegram,
        slack={"bot_token": BOT_TOKEN, "app_token": APP_TOKEN, "api_url": slack_app.api_url,
               "channel_critical": CRITICAL, "allowed_user_ids": [ALICE]},
        routing={"receivers": {"d76-p0": ["slack_critical"]}},
        escalation={"P0": None, "P1": None},
    )  # fmt: skip
    client = create_app(settings).test_client()
    _post(client)
    actions = SlackActions(settings)
    actions.start()
    try:
        slack_app.connected()
        slack_app.fail_next(429, "ratelimited")  # the first post is refused: waited out
        with dispatching(settings):
            page = slack_app.wait_for(lambda p: "[P0] GlobalGuard BLOCK" in p.text, 15)
            assert page.channel == CRITICAL and page.thread_ts is None
            assert set(page.buttons) == {"d76_ack", "d76_silence", "d76_mute"}
            assert page.attachments[0]["color"] == "#D00000"
            wait_rows(database_url, "SELECT state, message_id FROM notification",
                      [("sent", page.ts)], 10)  # fmt: skip

            refused = slack_app.press(page, "d76_ack", MALLORY)
            deadline = time.monotonic() + 10
            while not slack_app.ephemeral and time.monotonic() < deadline:
                time.sleep(0.05)
            assert slack_app.ephemeral[0]["text"] == "Not allowed here."
            assert query(database_url, "SELECT acknowledged FROM alert_history") == [(False,)]

            pressed = slack_app.press(page, "d76_ack", ALICE)
            wait_rows(database_url, "SELECT acknowledged_by FROM alert_history",
                      [("slack:U0ALICE",)], 10)  # fmt: skip
            deadline = time.monotonic() + 10
            while not page.updates and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "✅ Acknowledged by slack:U0ALICE" in page.updates[-1]["text"]
            assert set(page.buttons) == {"d76_silence", "d76_mute"}  # Ack is done
            mute = page.buttons["d76_mute"]
            assert {refused, pressed} <= set(slack_app.acks)  # every envelope acknowledged

            _post(client, "resolved")
            resolved = slack_app.wait_for(lambda p: "RESOLVED" in p.text, 15)
            deadline = time.monotonic() + 10
            while "RESOLVED" not in page.updates[-1]["text"] and time.monotonic() < deadline:
                time.sleep(0.05)

            # A mute pressed after the resolve would outlive it: refused, nothing silenced.
            slack_app.press(page, "d76_mute", ALICE, value=mute)  # from a stale copy
            deadline = time.monotonic() + 10
            while len(slack_app.ephemeral) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert slack_app.ephemeral[1]["text"] == "It has resolved already."
            assert query(database_url, "SELECT count(*) FROM mute") == [(0,)]
    finally:
        actions.stop()
    assert resolved.thread_ts == page.ts  # in the alert's thread
    assert page.updates[-1]["text"].startswith("✅ [P0] RESOLVED: GlobalGuard BLOCK (resolved ")
    outcomes = [o for (o,) in query(database_url, "SELECT outcome FROM notification_attempt "
                                                  "ORDER BY id")]  # fmt: skip
    assert outcomes == ["throttled", "sent", "sent"]


def test_in_app_mode_the_graph_is_uploaded_into_the_pages_thread(
    database_url: str, telegram: TelegramStandin, slack_app: SlackAppStandin
) -> None:
    settings = operator_settings(
        database_url, telegram,
        slack={"bot_token": BOT_TOKEN, "api_url": slack_app.api_url,
               "channel_critical": CRITICAL},
        routing={"receivers": {"d76-p0": ["slack_critical"]}},
        escalation={"P0": None, "P1": None},
    )  # fmt: skip
    client = create_app(settings).test_client()
    _post(client)
    with dispatching(settings):
        page = slack_app.wait_for(lambda p: "[P0] GlobalGuard BLOCK" in p.text, 15)
        ((alert_id,),) = query(database_url, "SELECT id FROM alert_history")
        conn = store.connect(database_url)
        try:  # the graph worker's last step, without Prometheus: the picture is stored
            job = graphs.claim(conn, owner="graphs-test", lease_seconds=30, max_attempts=2)
            assert job is not None and job.alert_id == alert_id
            queued = graphs.done(
                conn, job, png=PNG, expression="x", threshold=None, render_ms=1,
                photo_within_seconds=60, photo_kinds=("telegram", "slack"),
            )  # fmt: skip
        finally:
            conn.close()
        assert queued == 1
        photo = slack_app.wait_for(lambda p: p.file is not None, 15)
    assert photo.thread_ts == page.ts and photo.channel == CRITICAL
    assert photo.file == PNG
    assert photo.text.startswith("📈 *[P0] GlobalGuard BLOCK*")
    assert query(database_url, "SELECT kind, state FROM notification ORDER BY id") == [
        ("firing", "sent"),
        ("graph", "sent"),
    ]
