"""The webhook against a real PostgreSQL: stored before 2xx, idempotent, strict, 503 when down."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient

from tests.support.app import AppFactory
from tests.support.database import query
from tests.support.payloads import alert, payload
from tests.support.ports import free_port


def _post(client: FlaskClient, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post("/webhook", data=data, content_type="application/json", headers=headers)


def test_a_firing_alert_is_stored_with_the_seed_columns_and_queued(
    client: FlaskClient, database_url: str
) -> None:
    response = _post(client, payload(alert()))
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "stored",
        "alerts": 1,
        "new": 1,
        "resolved": 0,
        "queued": 2,  # the seed's P0 plan: Telegram and Slack #critical
        "refired": 0,
        "reminders": 0,
    }
    rows = query(
        database_url,
        """SELECT severity, source, title, message, status, alertname,
                                         acknowledged, ends_at, labels->>'job', receiver
                                    FROM alert_history""",
    )
    assert rows == [
        (
            "P0",
            "RiskGuard",
            "GlobalGuard BLOCK",
            "Reason: Global Daily Loss Limit\nDaily Loss: $55,000 / $50,000 (limit)",  # formatted
            "firing",
            "GlobalGuardDailyLossLimit",
            False,
            None,
            "d75",
            "d76-p0",
        )
    ]
    assert query(
        database_url, "SELECT kind, target, priority, state FROM notification ORDER BY id"
    ) == [("firing", "telegram", 0, "queued"), ("firing", "slack_critical", 0, "queued")]


def test_the_same_occurrence_twice_is_one_row_and_one_notification(
    client: FlaskClient, database_url: str
) -> None:
    body = payload(alert())
    assert _post(client, body).status_code == 200
    again = _post(client, body)  # an Alertmanager retry, or its HA twin
    assert again.status_code == 200
    assert again.get_json()["new"] == 0
    assert query(database_url, "SELECT count(*) FROM alert_history") == [(1,)]
    assert query(database_url, "SELECT count(*) FROM notification") == [(2,)]


def test_resolution_updates_the_occurrence_and_queues_a_resolved_message(
    client: FlaskClient, database_url: str
) -> None:
    _post(client, payload(alert()))
    response = _post(client, payload(alert(status="resolved")))
    assert response.get_json()["resolved"] == 1
    rows = query(database_url, "SELECT status, ends_at IS NOT NULL FROM alert_history")
    assert rows == [("resolved", True)]
    kinds = query(database_url, "SELECT kind, target FROM notification ORDER BY id")
    assert kinds == [
        ("firing", "telegram"),
        ("firing", "slack_critical"),
        ("resolved", "telegram"),
        ("resolved", "slack_critical"),
    ]


def test_a_refiring_alert_is_a_new_occurrence(client: FlaskClient, database_url: str) -> None:
    _post(client, payload(alert()))
    _post(client, payload(alert(status="resolved")))
    _post(client, payload(alert(starts_at="2026-11-24T04:00:00Z")))
    assert query(database_url, "SELECT status FROM alert_history ORDER BY id") == [
        ("resolved",),
        ("firing",),
    ]


def test_p3_is_stored_and_goes_to_email_not_the_phone(
    client: FlaskClient, database_url: str
) -> None:
    response = _post(
        client, payload(alert("ArbRouteScorePlunge", severity="P3"), receiver="d76-p3")
    )
    assert response.get_json()["queued"] == 1
    assert query(database_url, "SELECT severity FROM alert_history") == [("P3",)]
    assert query(database_url, "SELECT target FROM notification") == [("email",)]


def test_malformed_json_is_a_400_with_a_json_error(client: FlaskClient) -> None:
    response = _post(client, b"{not json")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_payload"
    assert error["message"].startswith("body: not valid JSON")


def test_an_invalid_payload_names_the_field(client: FlaskClient, database_url: str) -> None:
    bad = payload(alert())
    del bad["alerts"][0]["startsAt"]
    response = _post(client, bad)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "alerts[0].startsAt: missing"
    assert query(database_url, "SELECT count(*) FROM alert_history") == [(0,)]


def test_an_oversized_body_is_refused_with_413(client: FlaskClient) -> None:
    huge = payload(alert(annotations={"description": "x" * 2_000_000}))
    response = _post(client, huge)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_database_down_answers_503_so_alertmanager_retries(app_factory: AppFactory) -> None:
    nowhere = f"postgresql://d76@127.0.0.1:{free_port()}/d76"
    client = app_factory(DATABASE_URL=nowhere).test_client()
    response = _post(client, payload(alert()))
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "store_unavailable"


def test_the_webhook_token_is_required_when_set(app_factory: AppFactory) -> None:
    client = app_factory(RECEIVER_WEBHOOK_TOKEN="s3cret-token").test_client()
    assert _post(client, payload(alert())).status_code == 401
    wrong = _post(client, payload(alert()), Authorization="Bearer nope")
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "unauthorized"
    right = _post(client, payload(alert()), Authorization="Bearer s3cret-token")
    assert right.status_code == 200


def test_metrics_count_requests_and_show_the_outbox(client: FlaskClient) -> None:
    _post(client, payload(alert()))
    _post(client, b"[]")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'd76_receiver_webhook_requests_total{code="200"} 1.0' in text
    assert 'd76_receiver_webhook_requests_total{code="400"} 1.0' in text
    assert 'd76_receiver_notifications{state="queued",target="telegram"} 1.0' in text
    assert "d76_receiver_database_up 1.0" in text
