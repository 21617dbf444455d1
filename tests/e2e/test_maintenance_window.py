"""A maintenance window of config/maintenance.yml through the real Prometheus, Alertmanager,
receiver and dispatcher: the exchange's alert is stored, marked, and pages nobody; an invalid
edit of the windows is refused by `make reload` (the stack's reload) and the running
configuration stays."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from stack.procs import StartupError
from stack.stack import Stack
from tests.support import REPO
from tests.support.database import query
from tests.support.pipeline import play
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e
ALWAYS = """
windows:
  - name: binance-always
    exchange: Binance
    reason: the test's endless maintenance
    weekly: [{weekdays: [monday, tuesday, wednesday, thursday, friday, saturday, sunday],
              times: ["00:00-24:00"]}]
"""


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    shutil.copytree(REPO / "config", tmp_path / "config")
    (tmp_path / "config" / "maintenance.yml").write_text(ALWAYS)
    return {"D76_CONFIG_DIR": str(tmp_path / "config")}


def test_an_exchange_in_maintenance_is_recorded_and_pages_nobody(
    pipeline: Stack, telegram: TelegramStandin, database_url: str, tmp_path: Path
) -> None:
    play(pipeline, "rate_limit_squeeze")  # Binance at 15%: RateLimitLow (P2)
    deadline = time.monotonic() + 60
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline and not rows:
        rows = query(
            database_url,
            "SELECT alertname, receiver, metadata->>'maintenance' FROM alert_history "
            "WHERE labels->>'exchange' = 'Binance'",
        )
        time.sleep(0.5)
    assert rows and all(r[1:] == ("d76-maintenance", "binance-always") for r in rows), rows
    time.sleep(3)  # the P2's group_wait (1 s in tests) and a dispatcher pass
    assert not [m for m in telegram.sent() if "Binance" in m.text]
    assert query(database_url, "SELECT count(*) FROM notification") == [(0,)]

    with urllib.request.urlopen(f"{pipeline.url('alertmanager')}/api/v2/status") as r:
        running = json.load(r)["config"]["original"]
    assert "maintenance-binance-always" in running

    (tmp_path / "config" / "maintenance.yml").write_text("windows: [{name: Bad Name}]\n")
    with pytest.raises(StartupError, match="maintenance"):
        pipeline.reload()
    with urllib.request.urlopen(f"{pipeline.url('alertmanager')}/api/v2/status") as r:
        assert "maintenance-binance-always" in json.load(r)["config"]["original"]
