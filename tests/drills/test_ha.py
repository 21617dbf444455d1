"""The highly available pair: two clustered Alertmanagers (Prometheus sends to both), two
receivers and two dispatchers on one PostgreSQL. Each alert is stored once and sent once;
killing one Alertmanager mid-stream loses nothing."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.stack import Stack, StackConfig
from tests.support import binary
from tests.support.database import query
from tests.support.pipeline import play
from tests.support.ports import free_ports
from tests.support.standins.fixtures import telegram_env
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e
# Each scenario and the alert titles it raises (P0-P2: they go to Telegram).
FIRST = {"global_daily_loss": "GlobalGuard BLOCK", "route_score_low": "Route Score Low"}
SECOND = {"high_exposure": "High Exposure Risk", "rate_limit_squeeze": "Rate Limit Warning"}


@pytest.fixture
def ha_stack(database_url: str, telegram: TelegramStandin, tmp_path: Path) -> Iterator[Stack]:
    binary("prometheus-alertmanager")
    stack = Stack(
        StackConfig(
            state_dir=tmp_path / "ha",
            ports=free_ports(),
            scenario="calm",
            ha=True,
            database_url=database_url,
            fast_timers=True,
            env=telegram_env(telegram),
        ),
        progress=lambda _: None,
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def _cluster_size(url: str) -> int:
    with urllib.request.urlopen(f"{url}/api/v2/status", timeout=5) as response:
        return len(json.load(response)["cluster"].get("peers") or [])


def _titles(telegram: TelegramStandin) -> Counter[str]:
    return Counter(
        m.text.split("</b>")[0].split("] ", 1)[1]
        for m in telegram.sent()
        if "RESOLVED" not in m.text and "</b>" in m.text and m.photo is None  # pages, not graphs
    )


def test_each_alert_once_with_both_and_nothing_lost_when_one_dies(
    ha_stack: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _cluster_size(ha_stack.url("alertmanager")) < 2:
        time.sleep(0.5)
    assert _cluster_size(ha_stack.url("alertmanager")) == 2, "the pair never formed a cluster"

    for scenario in FIRST:
        play(ha_stack, scenario)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and set(FIRST.values()) - set(_titles(telegram)):
        time.sleep(0.3)
    time.sleep(6)  # the second Alertmanager's turn (peer timeout) passes: still nothing twice
    titles = _titles(telegram)
    for title in FIRST.values():
        assert titles[title] >= 1, title
    assert all(n == 1 for n in titles.values()), titles

    ha_stack.processes["alertmanager"].stop()  # the first of the pair dies mid-stream
    for scenario in SECOND:
        play(ha_stack, scenario)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and set(SECOND.values()) - set(_titles(telegram)):
        time.sleep(0.3)
    titles = _titles(telegram)
    assert set(SECOND.values()) <= set(titles), titles
    assert all(n == 1 for n in titles.values()), titles
    stored = query(
        database_url,
        "SELECT fingerprint, starts_at, count(*) FROM alert_history "
        "GROUP BY 1, 2 HAVING count(*) > 1",
    )
    assert stored == []
    names = {row[0] for row in query(database_url, "SELECT title FROM alert_history")}
    assert set(FIRST.values()) | set(SECOND.values()) <= names
