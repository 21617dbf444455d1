"""Dollar amounts are formatted once, by the receiver, for every rule (receiver/amounts.py)."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from receiver import config
from receiver.amounts import format_amounts
from receiver.web.app import create_app
from tests.conftest import REPO, query
from tests.payloads import alert, payload


@pytest.mark.parametrize(
    ("raw", "formatted"),
    [
        ("Daily Loss: $55000 / $50000 (limit)", "Daily Loss: $55,000 / $50,000 (limit)"),
        (
            "Portfolio Value: $945000 (start: $1000000)",
            "Portfolio Value: $945,000 (start: $1,000,000)",
        ),
        ("$999 and $1000", "$999 and $1,000"),
        ("$-12000", "$-12,000"),
        ("$1234.56", "$1,234.56"),
        ("route 12345, 2026, 0.65, 85%", "route 12345, 2026, 0.65, 85%"),
        ("$55,000 already", "$55,000 already"),
        ("REST latency: 1250ms", "REST latency: 1,250ms"),
        (
            "420ms, 12345ms, 1.5000ms, 1,250ms, 2000mss",
            "420ms, 12,345ms, 1.5000ms, 1,250ms, 2000mss",
        ),
    ],
)
def test_format_amounts(raw: str, formatted: str) -> None:
    assert format_amounts(raw) == formatted


def test_no_rule_pastes_a_number_format_chain() -> None:
    for path in (REPO / "prometheus" / "rules").glob("*.yml"):
        assert "reReplaceAll" not in path.read_text(), f"{path.name}: format in the receiver"


def test_the_webhook_stores_and_queues_formatted_amounts(
    config_env: pytest.MonkeyPatch, database_url: str
) -> None:
    config_env.setenv("DATABASE_URL", database_url)
    client: FlaskClient = create_app(config.load()).test_client()
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
