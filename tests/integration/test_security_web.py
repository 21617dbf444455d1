"""The history API and page fail closed: writes need the write token whenever any token is
configured, the page's forms carry a CSRF token, the page's token is taken once and never
appears in a URL again, and every response carries the security headers. Also the bounds:
time ranges, statement timeouts, and the webhook's own connections."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from receiver.errors import QueryTimeout
from receiver.web.pools import Database
from receiver.web.state import ReceiverState
from tests.support.app import AppFactory
from tests.support.database import query, store_alerts
from tests.support.payloads import alert, payload

READ, WRITE = "read-secret-token", "write-secret-token"
RANGE = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"


@pytest.fixture
def seeded(database_url: str) -> str:
    store_alerts(
        database_url,
        alert("A", fingerprint="a1", starts_at="2026-11-20T10:00:00Z"),
        alert("B", fingerprint="b1", starts_at="2026-11-20T11:00:00Z"),
    )
    return database_url


def _acked(url: str) -> int:
    return int(str(query(url, "SELECT count(*) FROM alert_history WHERE acknowledged")[0][0]))


# -- API ----------------------------------------------------------------------------------------


def test_with_only_a_read_token_every_write_is_refused(
    app_factory: AppFactory, seeded: str
) -> None:
    client = app_factory(HISTORY_API_READ_TOKEN=READ).test_client()
    bulk = {"by": "mallory", "filter": {"from": "2026-11-01T00:00:00Z"}}
    for headers in ({}, {"Authorization": f"Bearer {READ}"}, {"Authorization": "Bearer x"}):
        response = client.post("/api/v1/alerts/ack", json=bulk, headers=headers)
        assert response.status_code == 401, response.get_json()
        assert (
            client.post("/api/v1/alerts/1/ack", json={"by": "m"}, headers=headers).status_code
            == 401
        )
    assert "HISTORY_API_WRITE_TOKEN" in response.get_json()["error"]["message"]
    assert _acked(seeded) == 0
    read = client.get(f"/api/v1/alerts?{RANGE}", headers={"Authorization": f"Bearer {READ}"})
    assert read.status_code == 200


def test_with_only_a_write_token_reads_need_a_token_too(
    app_factory: AppFactory, seeded: str
) -> None:
    client = app_factory(HISTORY_API_WRITE_TOKEN=WRITE).test_client()
    assert client.get(f"/api/v1/alerts?{RANGE}").status_code == 401
    assert client.post("/api/v1/alerts/1/ack", json={"by": "m"}).status_code == 401
    write = {"Authorization": f"Bearer {WRITE}"}
    assert client.get(f"/api/v1/alerts?{RANGE}", headers=write).status_code == 200
    assert client.post("/api/v1/alerts/1/ack", json={"by": "m"}, headers=write).status_code == 200
    assert _acked(seeded) == 1


# -- page ---------------------------------------------------------------------------------------


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


def _no_token_anywhere(client: FlaskClient, response: Any, *tokens: str) -> None:
    text = response.get_data(as_text=True) + str(response.headers)
    for token in tokens:
        assert token not in text
    cookie = client.get_cookie("d76_session")
    assert cookie is not None
    assert all(token not in cookie.value for token in tokens)


def test_the_page_takes_its_token_once_and_never_shows_it_again(
    app_factory: AppFactory, seeded: str
) -> None:
    client = app_factory(HISTORY_API_READ_TOKEN=READ, HISTORY_API_WRITE_TOKEN=WRITE).test_client()
    assert client.get("/history?from=-24h").status_code == 401
    assert client.get(f"/history?token=wrong&{RANGE}").status_code == 401

    first = client.get(f"/history?token={WRITE}&{RANGE}&limit=1")
    assert first.status_code == 303
    assert first.headers["Location"] == f"/history?{RANGE.replace(':', '%3A')}&limit=1"
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never return
    _no_token_anywhere(client, first, WRITE, READ)
    proxied = client.get(f"/history?token={WRITE}&{RANGE}", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in proxied.headers["Set-Cookie"]  # TLS ended at a proxy: Secure all the same

    page = client.get(first.headers["Location"])
    assert page.status_code == 200
    assert 'id="older"' in page.get_data(as_text=True)  # a link to the next page...
    _no_token_anywhere(client, page, WRITE, READ)  # ...without the token in it

    (alert_id,) = query(seeded, "SELECT max(id) FROM alert_history")[0]
    acked = client.post(
        f"/history/{alert_id}/ack",
        data={"by": "op", "csrf": _csrf(page.get_data(as_text=True)), "back": "/history?x=1"},
    )
    assert acked.status_code == 303
    assert "token" not in acked.headers["Location"]
    assert _acked(seeded) == 1
    _no_token_anywhere(client, acked, WRITE, READ)


def test_page_writes_need_the_csrf_token_and_the_write_scope(
    app_factory: AppFactory, seeded: str
) -> None:
    app = app_factory(HISTORY_API_READ_TOKEN=READ, HISTORY_API_WRITE_TOKEN=WRITE)
    client = app.test_client()
    client.get(f"/history?token={WRITE}")
    html = client.get(f"/history?{RANGE}").get_data(as_text=True)
    (alert_id,) = query(seeded, "SELECT max(id) FROM alert_history")[0]
    for form in ({"by": "op"}, {"by": "op", "csrf": "forged"}):
        assert client.post(f"/history/{alert_id}/ack", data=form).status_code == 403
    other = app.test_client()  # another browser: its own session, someone else's CSRF token
    other.get(f"/history?token={WRITE}")
    stolen = {"by": "op", "csrf": _csrf(html)}
    assert other.post(f"/history/{alert_id}/ack", data=stolen).status_code == 403
    reader = app.test_client()
    reader.get(f"/history?token={READ}")
    own = {"by": "op", "csrf": _csrf(reader.get(f"/history?{RANGE}").get_data(as_text=True))}
    assert reader.post(f"/history/{alert_id}/ack", data=own).status_code == 401
    assert _acked(seeded) == 0


def test_without_tokens_the_page_still_needs_its_csrf_token(
    client: FlaskClient, seeded: str
) -> None:
    (alert_id,) = query(seeded, "SELECT max(id) FROM alert_history")[0]
    assert client.post(f"/history/{alert_id}/ack", data={"by": "op"}).status_code == 403
    html = client.get(f"/history?{RANGE}").get_data(as_text=True)
    nul = {"by": "o\x00p", "csrf": _csrf(html)}  # validated as the API validates it: a 400
    assert client.post(f"/history/{alert_id}/ack", data=nul).status_code == 400
    form = {"by": "op", "csrf": _csrf(html)}
    assert client.post(f"/history/{alert_id}/ack", data=form).status_code == 303
    assert _acked(seeded) == 1


def test_every_response_carries_the_security_headers(client: FlaskClient, seeded: str) -> None:
    for path in ("/healthz", "/metrics", f"/history?{RANGE}", "/history/1", "/nope", "/api/v1/x"):
        response = client.get(path)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp, path
        assert "script-src" not in csp and "default-src 'none'" in csp
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# -- bounds -------------------------------------------------------------------------------------


def test_stats_and_page_refuse_a_range_past_the_maximum(client: FlaskClient, seeded: str) -> None:
    wide = "from=2020-01-01T00:00:00Z&to=2026-12-01T00:00:00Z"
    stats = client.get(f"/api/v1/stats?{wide}")
    assert stats.status_code == 400
    assert "at most 92 days" in stats.get_json()["error"]["message"]
    page = client.get(f"/history?{wide}")
    assert page.status_code == 400
    assert "at most 92 days" in page.get_data(as_text=True)
    assert client.get(f"/api/v1/stats?{RANGE}").status_code == 200


def test_a_statement_past_its_timeout_is_cancelled(database_url: str) -> None:
    db = Database(database_url, max_connections=1, statement_timeout_seconds=0.2)
    try:
        with pytest.raises(QueryTimeout), db.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_sleep(3)")
        with db.connection() as conn, conn.cursor() as cur:  # the connection is still good
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone() == ("200ms",)
    finally:
        db.close()


def test_the_api_holding_every_connection_never_starves_the_webhook(
    app_factory: AppFactory, database_url: str
) -> None:
    app = app_factory(db_connections=3)  # the API gets 1 connection
    client = app.test_client()
    state: ReceiverState = app.extensions["d76"]
    with state.db.connection():  # a slow history query holds the API's only connection
        busy = client.get(f"/api/v1/alerts?{RANGE}")
        assert busy.status_code == 503
        stored = client.post("/webhook", json=payload(alert("Ingested", fingerprint="c1")))
        assert stored.status_code == 200, stored.get_json()
    assert query(database_url, "SELECT alertname FROM alert_history") == [("Ingested",)]
