"""DATABASE_READ_URL: the history API and page read a real streaming replica (a second
PostgreSQL in recovery, fed by the test's primary) while writes, acknowledgements included,
go to the primary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stack.postgres import PrivatePostgres
from tests.support.app import AppFactory
from tests.support.database import query, store_alerts
from tests.support.payloads import alert
from tests.support.replica import streaming_replica


@pytest.fixture
def replica(postgres: PrivatePostgres, state_root: Path) -> Iterator[str]:
    with streaming_replica(postgres, state_root) as standby:
        yield standby.url


def _wait(url: str, sql: str, expected: list[tuple[object, ...]], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if query(url, sql) == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"{sql} never gave {expected}: {query(url, sql)}")


def _names(items: list[dict[str, object]]) -> list[str]:
    return sorted(str(item["alertname"]) for item in items)


def test_reads_come_from_the_replica_and_writes_go_to_the_primary(
    database_url: str, replica: str, app_factory: AppFactory
) -> None:
    started = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    store_alerts(database_url, alert("SeenEverywhere", fingerprint="a1", starts_at=started))
    _wait(replica, "SELECT count(*) FROM alert_history", [(1,)])
    assert query(replica, "SELECT pg_is_in_recovery()") == [(True,)]
    assert query(database_url, "SELECT count(*) FROM pg_stat_replication") == [(1,)]
    client = app_factory(DATABASE_READ_URL=replica).test_client()
    assert _names(client.get("/api/v1/alerts?from=-24h").get_json()["items"]) == ["SeenEverywhere"]

    query(replica, "SELECT pg_wal_replay_pause()")  # the replica stops where it is
    try:
        _wait(replica, "SELECT pg_get_wal_replay_pause_state()", [("paused",)])
        store_alerts(database_url, alert("OnlyOnThePrimary", fingerprint="b1", starts_at=started))
        (new_id,) = query(database_url, "SELECT id FROM alert_history WHERE fingerprint = 'b1'")[0]
        # The API, the statistics and the page read the replica: the new alert is not there yet.
        items = client.get("/api/v1/alerts?from=-24h").get_json()["items"]
        assert _names(items) == ["SeenEverywhere"]
        assert client.get(f"/api/v1/alerts/{new_id}").status_code == 404
        stats = client.get("/api/v1/stats?from=-24h&bucket=hour").get_json()
        assert stats["total"] == 1
        page = client.get("/history?from=-24h").get_data(as_text=True)
        assert "SeenEverywhere" in page and "OnlyOnThePrimary" not in page
        readers = "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = %s"
        assert query(replica, readers, ("d76-receiver-read",)) == [(True,)]
        # A write goes to the primary (and answers from it) while the replica lags behind.
        acked = client.post(f"/api/v1/alerts/{new_id}/ack", json={"by": "alice"})
        assert acked.status_code == 200 and acked.get_json()["acknowledged"] is True
        assert query(
            database_url, "SELECT acknowledged_by FROM alert_history WHERE id = %s", (new_id,)
        ) == [("alice",)]
    finally:
        query(replica, "SELECT pg_wal_replay_resume()")
    _wait(replica, "SELECT count(*) FROM alert_history WHERE acknowledged", [(1,)])
    assert _names(client.get("/api/v1/alerts?from=-24h").get_json()["items"]) == [
        "OnlyOnThePrimary",
        "SeenEverywhere",
    ]
