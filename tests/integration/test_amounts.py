"""Dollar amounts are formatted once, by the receiver: the webhook stores and queues them
formatted (the formatting itself: tests/unit/test_amounts.py)."""

from __future__ import annotations

import json

from flask.testing import FlaskClient

from tests.support.database import query
from tests.support.payloads import alert, payload


def test_the_webhook_stores_and_queues_formatted_amounts(
    client: FlaskClient, database_url: str
) -> None:
    body = payload(
        alert(
            annotations={
                "summary": "GlobalGuard BLOCK",
                "description": "Daily Loss: $55000 / $50000 (limit)",
            }
        )
    )
    response = client.post("/webhook", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    rows = query(database_url, "SELECT message, annotations->>'description' FROM alert_history")
    assert rows == [("Daily Loss: $55,000 / $50,000 (limit)",) * 2]
