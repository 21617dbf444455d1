"""The dead man's switch with the real pipeline: when Prometheus or Alertmanager dies, the
receiver pages P0 on Telegram by itself, naming what is silent, and again when it is back."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from stack.stack import Stack
from tests.support import REPO
from tests.support.database import query
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e
TIMEOUT = 10  # seconds without a Watchdog; 120 in production


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    (config_dir / "dev.yml").write_text(
        f"receiver:\n  deadman: {{timeout_seconds: {TIMEOUT}, check_seconds: 1}}\n"
    )
    return {"D76_CONFIG_DIR": str(config_dir)}


def _watchdog_seen(database_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if query(database_url, "SELECT status FROM heartbeat WHERE name = 'watchdog'") == [
            ("firing",)
        ]:
            return
        time.sleep(0.2)
    raise AssertionError("the Watchdog never arrived")


def test_prometheus_then_alertmanager_dying_is_paged_and_recovery_too(
    pipeline: Stack,
    telegram: TelegramStandin,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _watchdog_seen(database_url)
    timings = {}

    prometheus = pipeline.processes["prometheus"]
    killed = time.monotonic()
    prometheus.stop()
    silent = telegram.wait_for(lambda m: "SILENT: Prometheus" in m.text, 120)
    timings["Prometheus stopped -> P0 page"] = silent.received_at - killed
    assert silent.text.startswith("🔴 <b>[P0] Alerting pipeline SILENT: Prometheus</b>")
    assert "Prometheus: unreachable" in silent.text
    assert "Alertmanager: up" in silent.text
    prometheus.start()
    back = telegram.wait_for(
        lambda m: "RESOLVED: Alerting pipeline SILENT: Prometheus" in m.text, 120
    )
    assert back.reply_to == silent.message_id

    alertmanager = pipeline.processes["alertmanager"]
    killed = time.monotonic()
    alertmanager.stop()
    silent = telegram.wait_for(lambda m: "SILENT: Alertmanager" in m.text, 120)
    timings["Alertmanager stopped -> P0 page"] = silent.received_at - killed
    assert "Alertmanager: unreachable" in silent.text
    alertmanager.start()
    telegram.wait_for(lambda m: "RESOLVED: Alerting pipeline SILENT: Alertmanager" in m.text, 120)
    assert query(
        database_url,
        "SELECT count(*), count(ends_at) FROM alert_history WHERE alertname = 'D76WatchdogMissing'",
    ) == [(2, 2)]
    with capsys.disabled():
        for what, seconds in timings.items():
            print(f"\n[dead man's switch] {what}: {seconds:.1f}s (timeout {TIMEOUT}s)")
