"""The history marks alerts that fired inside a maintenance window (config/maintenance.yml,
or one opened with /maintenance); one stored quietly through the maintenance receiver pages
when it still fires after the window."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from flask.testing import FlaskClient

from receiver import config
from receiver.store import maintenance
from receiver.web.app import create_app
from tests.support import REPO
from tests.support.database import query
from tests.support.payloads import alert, payload

ALWAYS = """
windows:
  - name: upbit-always
    exchange: Upbit
    weekly: [{weekdays: [monday, tuesday, wednesday, thursday, friday, saturday, sunday],
              times: ["00:00-24:00"]}]
"""


@pytest.fixture
def client(config_env: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> FlaskClient:
    shutil.copytree(REPO / "config", tmp_path / "config")
    (tmp_path / "config" / "maintenance.yml").write_text(ALWAYS)
    config_env.setenv("D76_CONFIG_DIR", str(tmp_path / "config"))
    return create_app(config.load({"DATABASE_URL": database_url})).test_client()


def _post(client: FlaskClient, receiver: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload(*alerts, receiver=receiver))
    response = client.post("/webhook", data=body, content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def test_inside_a_window_it_is_stored_marked_and_pages_when_it_outlasts_the_window(
    client: FlaskClient, database_url: str
) -> None:
    upbit = alert("ExchangeHealthDown", severity="P1", labels={"exchange": "Upbit"})
    quiet = _post(client, "d76-maintenance", upbit)
    assert quiet["new"] == 1 and quiet["queued"] == 0 and quiet["escalations"] == 0
    assert query(database_url, "SELECT receiver, metadata->>'maintenance' FROM alert_history") == [
        ("d76-maintenance", "upbit-always")
    ]
    assert _post(client, "d76-maintenance", upbit)["queued"] == 0  # a repeat: still quiet

    woken = _post(client, "d76-p1", upbit)  # the window ended and it still fires: page
    assert woken["queued"] == 2 and woken["escalations"] == 1
    assert query(database_url, "SELECT kind, target FROM notification ORDER BY id") == [
        ("firing", "telegram"), ("firing", "slack_alerts")
    ]  # fmt: skip
    assert query(database_url, "SELECT receiver FROM alert_history") == [("d76-p1",)]
    assert _post(client, "d76-p1", upbit)["queued"] == 0  # paged once
    detail = client.get("/api/v1/alerts/1").get_json()
    assert detail["metadata"]["maintenance"] == "upbit-always"
    page = client.get("/history/1").get_data(as_text=True)
    assert "fired inside maintenance window <b>upbit-always</b>" in page


def test_a_window_opened_from_the_chat_marks_what_starts_inside_it(
    client: FlaskClient, database_url: str
) -> None:
    conn = psycopg2.connect(database_url)
    try:
        now = datetime.now(UTC)
        name = maintenance.record_window(
            conn, "Bithumb", now + timedelta(hours=1), "upgrade", "telegram:@alice", "s1"
        )
    finally:
        conn.close()
    assert name.startswith("chat-bithumb-")
    starts = (now + timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    inside = alert("RateLimitLow", severity="P2", fingerprint="b" * 16, starts_at=starts,
                   labels={"exchange": "Bithumb"})  # fmt: skip
    outside = alert(
        "RateLimitLow", severity="P2", fingerprint="c" * 16, labels={"exchange": "Bithumb"}
    )  # started 2026-11-24: before it
    _post(client, "d76-p2", inside, outside)
    marks = query(
        database_url, "SELECT fingerprint, metadata->>'maintenance' FROM alert_history ORDER BY 1"
    )
    assert marks == [("b" * 16, name), ("c" * 16, None)]
