"""`make run`'s stack (python -m stack run): the demo alert shows up in Prometheus, in the
Alertmanager UI and API, and in alert_history within two minutes; Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import REPO, binary
from tests.support.database import query
from tests.support.ports import free_port, free_ports

pytestmark = pytest.mark.e2e


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bytes(response.read())


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_alert_everywhere_within_two_minutes_and_ctrl_c_stops_all(
    state_root: Path, tmp_path: Path
) -> None:
    binary("prometheus")
    state = state_root / f"run-{free_port()}"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "extract_alertmanager_ui.py"),
            str(state / "alertmanager-ui"),
        ],
        check=True,
        capture_output=True,
    )
    ports = free_ports()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env.update(
        D76_STATE_DIR=str(state),
        D76_DEMO="1",
        PROMETHEUS_PORT=str(ports.prometheus),
        ALERTMANAGER_PORT=str(ports.alertmanager),
        RECEIVER_PORT=str(ports.receiver),
        EXPORTER_PORT=str(ports.exporter),
        POSTGRES_PORT=str(ports.postgres),
    )
    log = (tmp_path / "run.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stack", "run"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    db = f"postgresql://d76@127.0.0.1:{ports.postgres}/d76"
    prom = f"http://127.0.0.1:{ports.prometheus}"
    am = f"http://127.0.0.1:{ports.alertmanager}"
    try:
        seen: dict[str, float] = {}
        while time.monotonic() - started < 120 and len(seen) < 3:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            try:
                if "prometheus" not in seen and "GlobalGuardDailyLossLimit" in json.dumps(
                    json.loads(_get(f"{prom}/api/v1/alerts"))["data"]["alerts"]
                ):
                    seen["prometheus"] = time.monotonic() - started
                if (
                    "alertmanager" not in seen
                    and "GlobalGuardDailyLossLimit" in _get(f"{am}/api/v2/alerts").decode()
                ):
                    seen["alertmanager"] = time.monotonic() - started
                if "history" not in seen and query(
                    db,
                    "SELECT count(*) FROM alert_history "
                    "WHERE alertname = 'GlobalGuardDailyLossLimit'",
                ) == [(1,)]:
                    seen["history"] = time.monotonic() - started
            except (OSError, ValueError, KeyError):
                pass  # still starting
            time.sleep(0.5)
        output = (tmp_path / "run.log").read_text()
        assert set(seen) == {"prometheus", "alertmanager", "history"}, (seen, output)
        print(f"\n[make run] demo P0 seen after start: {seen}")

        # What the operator sees: URLs printed, the unsent message printed with its reason.
        assert f"{prom}/classic/alerts" in output
        assert f"{am}/#/silences" in output
        deadline = time.monotonic() + 15
        while "GlobalGuard BLOCK" not in output and time.monotonic() < deadline:
            time.sleep(0.2)
            output = (tmp_path / "run.log").read_text()
        assert "not sent (telegram: TELEGRAM_BOT_TOKEN or TELEGRAM_CHAT_ID is not set)" in output
        assert "[P0] GlobalGuard BLOCK" in output
        deadline = time.monotonic() + 10
        states: list[tuple[object, ...]] = []
        while time.monotonic() < deadline:
            states = query(
                db,
                """SELECT n.target, n.state FROM notification n
                                   JOIN alert_history a ON a.id = n.alert_id
                                  WHERE a.alertname = 'GlobalGuardDailyLossLimit'
                                  ORDER BY n.target""",
            )
            if states == [("slack_critical", "unsent"), ("telegram", "unsent")]:
                break
            time.sleep(0.2)
        assert states == [("slack_critical", "unsent"), ("telegram", "unsent")]

        # The Alertmanager web UI (with its Silences page) is served.
        index = _get(f"{am}/").decode()
        assert "<title>Alertmanager</title>" in index
        assert len(_get(f"{am}/script.js")) > 50_000
        assert json.loads(_get(f"{am}/api/v2/silences")) == []
        assert b"GlobalGuardDailyLossLimit" in _get(f"{prom}/classic/alerts")
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        log.close()
    assert code == 0, (tmp_path / "run.log").read_text()
    for port in (
        ports.prometheus,
        ports.alertmanager,
        ports.receiver,
        ports.exporter,
        ports.postgres,
    ):
        assert not _port_open(port), f"something still listens on {port} after Ctrl-C"
