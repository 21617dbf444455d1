"""Maintenance windows rendered into the running Alertmanager configuration, checked by the
real amtool: valid, and an exchange's alerts route to the history-only receiver (during its
window) as well as to their severity's (muted then)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import d76maintenance
from stack.render import Ports, alertmanager_config
from tests.support import binary

WINDOWS = """
time_zone: Asia/Seoul
windows:
  - name: upbit-weekly
    exchange: Upbit
    weekly: [{weekdays: [thursday, sunday], times: ["10:00-11:30", "23:00-24:00"]}]
  - name: binance-upgrade
    exchange: Binance
    time_zone: UTC
    once: [{start: "2026-12-03T22:00:00+00:00", end: "2026-12-05T02:00:00+00:00"}]
"""


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    (tmp_path / "maintenance.yml").write_text(WINDOWS)
    maintenance = d76maintenance.load(tmp_path / "maintenance.yml")
    return alertmanager_config(tmp_path / "am.yml", Ports(), maintenance=maintenance)


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("amtool"), *args], capture_output=True, text=True, check=False)


def test_the_rendered_configuration_is_valid(rendered: Path) -> None:
    result = _amtool("check-config", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=P1", "exchange=Upbit"], "d76-maintenance,d76-p1"),
        (["severity=P0", "exchange=Binance"], "d76-maintenance,d76-p0"),
        (["severity=P1", "exchange=Bithumb"], "d76-p1"),
        (["alertname=Watchdog", "severity=none", "exchange=Upbit"], "d76-watchdog"),
    ],
)
def test_an_exchanges_alerts_route_through_its_window(
    rendered: Path, labels: list[str], receivers: str
) -> None:
    result = _amtool(
        "config", "routes", "test", f"--config.file={rendered}",
        f"--verify.receivers={receivers}", *labels,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
