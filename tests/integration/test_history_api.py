"""The history API against real PostgreSQL: filters, keyset pagination, lifecycle, ack,
statistics checked against hand-computed fixtures, 400s naming the parameter, 401s."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import psycopg2
import pytest
from flask.testing import FlaskClient

from receiver.store import outbox
from receiver.web.api_models import AlertDetail, Stats
from tests.support.app import AppFactory
from tests.support.database import query, store_alerts
from tests.support.payloads import alert

RANGE = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"


@pytest.fixture
def seeded(database_url: str) -> str:
    """Six alerts on 2026-11-20 between 10:00 and 12:30 UTC."""
    store_alerts(
        database_url,
        alert(
            "GlobalGuardDailyLossLimit",
            severity="P0",
            source="RiskGuard",
            fingerprint="a1",
            starts_at="2026-11-20T10:00:00Z",
        ),
        alert(
            "ExchangeHealthDown",
            severity="P1",
            source="ExchangeHealth",
            fingerprint="b1",
            starts_at="2026-11-20T10:30:00Z",
            labels={"exchange": "Upbit"},
        ),
        alert(
            "ExchangeHealthDown",
            severity="P1",
            source="ExchangeHealth",
            fingerprint="b2",
            starts_at="2026-11-20T11:00:00Z",
            labels={"exchange": "Binance"},
        ),
        alert(
            "RateLimitLow",
            severity="P2",
            source="RateLimiter",
            fingerprint="c1",
            starts_at="2026-11-20T11:30:00Z",
            labels={"exchange": "Binance"},
        ),
        alert(
            "RateLimitLow",
            severity="P2",
            source="RateLimiter",
            fingerprint="c2",
            starts_at="2026-11-20T12:00:00Z",
            labels={"exchange": "Upbit"},
        ),
        alert(
            "ArbRouteScorePlunge",
            severity="P3",
            source="ArbRoute",
            fingerprint="d1",
            starts_at="2026-11-20T12:30:00Z",
        ),
    )
    store_alerts(
        database_url,
        alert(
            "ExchangeHealthDown",
            severity="P1",
            status="resolved",
            fingerprint="b1",
            starts_at="2026-11-20T10:30:00Z",
            ends_at="2026-11-20T10:40:00Z",
            labels={"exchange": "Upbit"},
        ),
    )
    return database_url


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["alertname"] + ":" + item["fingerprint"] for item in response.get_json()["items"]]


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        (
            "",
            [
                "ArbRouteScorePlunge:d1",
                "RateLimitLow:c2",
                "RateLimitLow:c1",
                "ExchangeHealthDown:b2",
                "ExchangeHealthDown:b1",
                "GlobalGuardDailyLossLimit:a1",
            ],
        ),
        (
            "&severity=P0,P1",
            ["ExchangeHealthDown:b2", "ExchangeHealthDown:b1", "GlobalGuardDailyLossLimit:a1"],
        ),
        ("&severity=P0&severity=P3", ["ArbRouteScorePlunge:d1", "GlobalGuardDailyLossLimit:a1"]),
        ("&source=RateLimiter", ["RateLimitLow:c2", "RateLimitLow:c1"]),
        ("&alertname=ExchangeHealthDown", ["ExchangeHealthDown:b2", "ExchangeHealthDown:b1"]),
        ("&status=resolved", ["ExchangeHealthDown:b1"]),
        ("&label=exchange:Upbit", ["RateLimitLow:c2", "ExchangeHealthDown:b1"]),
        ("&label=exchange:Upbit&severity=P2", ["RateLimitLow:c2"]),
    ],
)
def test_each_filter(
    client: FlaskClient, seeded: str, query_string: str, expected: list[str]
) -> None:
    assert names(client.get(f"/api/v1/alerts?{RANGE}{query_string}")) == expected


def test_time_range_iso_and_relative(client: FlaskClient, seeded: str) -> None:
    window = "from=2026-11-20T11:00:00Z&to=2026-11-20T12:00:00Z"  # [from, to)
    assert names(client.get(f"/api/v1/alerts?{window}")) == [
        "RateLimitLow:c1",
        "ExchangeHealthDown:b2",
    ]
    assert names(client.get("/api/v1/alerts?from=-1h")) == []  # 2026-11-20 is long ago


def test_acknowledged_filter_and_ack_single_bulk_idempotent(
    client: FlaskClient, seeded: str
) -> None:
    (a1,) = query(seeded, "SELECT id FROM alert_history WHERE fingerprint = 'a1'")[0]
    first = client.post(f"/api/v1/alerts/{a1}/ack", json={"by": "alice", "comment": "on it"})
    assert first.status_code == 200
    body = first.get_json()
    assert body["acknowledged"] is True and body["acknowledged_by"] == "alice"
    again = client.post(f"/api/v1/alerts/{a1}/ack", json={"by": "bob"}).get_json()
    assert again["acknowledged_at"] == body["acknowledged_at"]  # idempotent: first ack stays
    assert again["acknowledged_by"] == "alice"
    assert names(client.get(f"/api/v1/alerts?{RANGE}&acknowledged=true")) == [
        "GlobalGuardDailyLossLimit:a1"
    ]
    bulk = {
        "by": "carol",
        "filter": {
            "from": "2026-11-01T00:00:00Z",
            "to": "2026-12-01T00:00:00Z",
            "severity": ["P1", "P2"],
        },
    }
    assert client.post("/api/v1/alerts/ack", json=bulk).get_json() == {"acknowledged": 4}
    assert client.post("/api/v1/alerts/ack", json=bulk).get_json() == {"acknowledged": 0}
    assert names(client.get(f"/api/v1/alerts?{RANGE}&acknowledged=false")) == [
        "ArbRouteScorePlunge:d1"
    ]
    assert client.post("/api/v1/alerts/999999/ack", json={"by": "x"}).status_code == 404


def test_pagination_walks_every_alert_once_in_a_stable_order(
    client: FlaskClient, database_url: str
) -> None:
    # 130 alerts, many sharing a timestamp, so the order must break ties by id.
    store_alerts(
        database_url,
        *[
            alert(f"A{i}", fingerprint=f"p{i:04d}", starts_at=f"2026-11-21T10:{i % 7:02d}:00Z")
            for i in range(130)
        ],
    )
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        url = f"/api/v1/alerts?{RANGE}&limit=25" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url).get_json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 6
    assert len(seen) == len(set(seen)) == 130
    expected = [
        r[0]
        for r in query(
            database_url, "SELECT id FROM alert_history ORDER BY timestamp DESC, id DESC"
        )
    ]
    assert seen == expected


def test_one_alert_shows_its_lifecycle(client: FlaskClient, database_url: str) -> None:
    store_alerts(database_url, alert(), targets=["telegram"])
    (alert_id, notification_id) = query(database_url, "SELECT alert_id, id FROM notification")[0]
    conn = psycopg2.connect(database_url)
    try:
        item = outbox.claim(conn, owner="test", lease_seconds=30)
        assert item is not None and item.id == notification_id
        outbox.record_retry(conn, item, "telegram: Bad Gateway", 0, 12, throttled=False)
        item = outbox.claim(conn, owner="test", lease_seconds=30)
        assert item is not None
        outbox.record_sent(conn, item, "101", 8)
    finally:
        conn.close()
    client.post(f"/api/v1/alerts/{alert_id}/ack", json={"by": "alice"})
    detail = client.get(f"/api/v1/alerts/{alert_id}").get_json()
    jsonschema_rs.validate(AlertDetail.model_json_schema(), detail)  # as the document says
    (notification,) = detail["notifications"]
    assert notification["target"] == "telegram" and notification["state"] == "sent"
    assert notification["message_id"] == "101"
    assert [a["outcome"] for a in notification["attempt_log"]] == ["retry", "sent"]
    assert notification["attempt_log"][0]["error"] == "telegram: Bad Gateway"
    assert [(a["action"], a["actor"]) for a in detail["actions"]] == [("ack", "alice")]
    assert client.get("/api/v1/alerts/424242").status_code == 404


def test_stats_match_hand_computed_figures(client: FlaskClient, database_url: str) -> None:
    day = "2026-11-22T"
    store_alerts(
        database_url,
        alert("X", severity="P0", fingerprint="x1", starts_at=f"{day}10:00:00Z"),
        alert("X", severity="P0", fingerprint="x1", starts_at=f"{day}10:20:00Z"),
        alert("X", severity="P0", fingerprint="x1", starts_at=f"{day}10:40:00Z"),
        alert(
            "Y", severity="P2", source="RateLimiter", fingerprint="y1", starts_at=f"{day}11:15:00Z"
        ),
    )
    # acks after 60 s and 180 s; resolutions after 300 s and 900 s
    query(
        database_url,
        f"""UPDATE alert_history SET acknowledged = TRUE,
        acknowledged_at = starts_at + CASE WHEN starts_at = '{day}10:00:00Z'
                                           THEN interval '60 s' ELSE interval '180 s' END
        WHERE starts_at IN ('{day}10:00:00Z', '{day}10:20:00Z')""",
    )
    query(
        database_url,
        f"""UPDATE alert_history SET status = 'resolved',
        ends_at = starts_at + CASE WHEN starts_at = '{day}10:00:00Z'
                                   THEN interval '300 s' ELSE interval '900 s' END
        WHERE starts_at IN ('{day}10:00:00Z', '{day}11:15:00Z')""",
    )
    stats = client.get(f"/api/v1/stats?from={day}00:00:00Z&to={day}23:59:59Z").get_json()
    jsonschema_rs.validate(Stats.model_json_schema(), stats)  # as the document says
    assert stats["total"] == 4
    assert stats["by_severity"] == [
        {"bucket": f"{day}10:00:00+00:00", "severity": "P0", "count": 3},
        {"bucket": f"{day}11:00:00+00:00", "severity": "P2", "count": 1},
    ]
    assert stats["time_to_ack_seconds"] == {"count": 2, "mean": 120.0, "p90": 168.0}
    assert stats["time_to_resolve_seconds"] == {"count": 2, "mean": 600.0, "p90": 840.0}
    assert stats["noisiest"][0] == {"alertname": "X", "severity": "P0", "count": 3}
    (flapping,) = stats["flapping"]
    assert (flapping["alertname"], flapping["occurrences"], flapping["resolved"]) == ("X", 3, 1)
    daily = client.get(f"/api/v1/stats?from={day}00:00:00Z&to={day}23:59:59Z&bucket=day")
    assert daily.get_json()["by_source"] == [
        {"bucket": f"{day}00:00:00+00:00", "source": "RateLimiter", "count": 1},
        {"bucket": f"{day}00:00:00+00:00", "source": "RiskGuard", "count": 3},
    ]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/api/v1/alerts?severity=P9", "severity:"),
        ("/api/v1/alerts?from=yesterday", "from:"),
        ("/api/v1/alerts?from=-1h&to=-2h", "from: must not be after to"),
        ("/api/v1/alerts?limit=0", "limit:"),
        ("/api/v1/alerts?limit=10000", "limit:"),
        ("/api/v1/alerts?cursor=garbage", "cursor:"),
        ("/api/v1/alerts?status=open", "status:"),
        ("/api/v1/alerts?acknowledged=maybe", "acknowledged:"),
        ("/api/v1/alerts?label=exchange", "label:"),
        ("/api/v1/alerts?colour=red", "colour: unknown parameter"),
        ("/api/v1/stats?bucket=week", "bucket:"),
    ],
)
def test_bad_parameters_are_400s_naming_the_parameter(
    client: FlaskClient, url: str, named: str
) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert named in response.get_json()["error"]["message"]


def test_bad_ack_bodies_are_400s(client: FlaskClient, seeded: str) -> None:
    assert "by:" in client.post("/api/v1/alerts/1/ack", json={}).get_json()["error"]["message"]
    bad = client.post("/api/v1/alerts/ack", json={"by": "x", "filter": {"sev": "P0"}})
    assert bad.get_json()["error"]["message"] == "filter.sev: unknown parameter"
    not_json = client.post("/api/v1/alerts/1/ack", data="{", content_type="application/json")
    assert not_json.status_code == 400


def test_tokens_guard_reads_and_acks(app_factory: AppFactory, seeded: str) -> None:
    client = app_factory(
        HISTORY_API_READ_TOKEN="read-secret", HISTORY_API_WRITE_TOKEN="write-secret"
    ).test_client()
    read = {"Authorization": "Bearer read-secret"}
    write = {"Authorization": "Bearer write-secret"}
    assert client.get(f"/api/v1/alerts?{RANGE}").status_code == 401
    assert (
        client.get(f"/api/v1/alerts?{RANGE}", headers={"Authorization": "Bearer x"}).status_code
        == 401
    )
    assert client.get(f"/api/v1/alerts?{RANGE}", headers=read).status_code == 200
    assert client.get(f"/api/v1/stats?{RANGE}", headers=write).status_code == 200
    (a1,) = query(seeded, "SELECT id FROM alert_history WHERE fingerprint = 'a1'")[0]
    denied = client.post(f"/api/v1/alerts/{a1}/ack", json={"by": "x"}, headers=read)
    assert denied.status_code == 401
    assert denied.get_json()["error"]["code"] == "unauthorized"
    assert (
        client.post(f"/api/v1/alerts/{a1}/ack", json={"by": "x"}, headers=write).status_code == 200
    )


def test_the_openapi_document_names_every_endpoint(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {
        "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}",
        "/api/v1/alerts/{alert_id}/ack",
        "/api/v1/alerts/ack",
        "/api/v1/stats",
    }
    json.dumps(spec)
