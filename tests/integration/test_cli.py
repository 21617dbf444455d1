"""The operator CLI (python -m receiver history|ack|prune) against real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from tests.support import REPO
from tests.support.database import query, store_alerts
from tests.support.payloads import alert


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def receiver(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "D76_CONFIG_DIR": str(REPO / "config")}
    return subprocess.run(
        [sys.executable, "-m", "receiver", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_history_ack_and_prune(database_url: str) -> None:
    store_alerts(
        database_url,
        alert(
            "GlobalGuardDailyLossLimit", severity="P0", fingerprint="a1", starts_at=_ago(hours=1)
        ),
        alert(
            "ExchangeHealthDown",
            severity="P1",
            fingerprint="b1",
            starts_at=_ago(hours=2),
            labels={"exchange": "Upbit"},
        ),
        alert("RateLimitLow", severity="P2", fingerprint="c1", starts_at=_ago(hours=3)),
        alert("Ancient", severity="P2", fingerprint="z1", starts_at=_ago(days=500)),
    )
    listed = receiver(database_url, "history", "--since", "24h", "--severity", "P0,P1")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert "GlobalGuardDailyLossLimit" in lines[1] and "ExchangeHealthDown" in lines[2]
    assert "exchange=Upbit" in lines[2]
    assert lines[-1] == "2 alert(s)"

    (b1,) = query(database_url, "SELECT id FROM alert_history WHERE fingerprint = 'b1'")[0]
    acked = receiver(database_url, "ack", str(b1), "--by", "alice", "--comment", "on it")
    assert acked.stdout.strip() == f"alert {b1} acknowledged by alice"
    bulk = receiver(database_url, "ack", "--since", "24h", "--severity", "P2", "--by", "bob")
    assert bulk.stdout.strip() == "1 alert(s) acknowledged by bob"
    assert query(
        database_url,
        "SELECT fingerprint, acknowledged_by FROM alert_history "
        "WHERE acknowledged ORDER BY fingerprint",
    ) == [("b1", "alice"), ("c1", "bob")]

    bad = receiver(database_url, "history", "--severity", "P7")
    assert bad.returncode == 2 and "severity:" in bad.stdout

    pruned = receiver(database_url, "prune")  # api.retention_days: 400
    assert pruned.stdout.strip() == "deleted 1 alert(s) that started more than 400 days ago"
    assert query(database_url, "SELECT count(*) FROM alert_history") == [(3,)]
