"""Failures that must lose nothing: PostgreSQL stopped under a real Alertmanager, and a
dispatcher killed with SIGKILL in the middle of delivering."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from stack.stack import Stack, StackConfig
from tests.support import REPO
from tests.support.database import query, wait_rows
from tests.support.delivery import queue_alerts
from tests.support.payloads import alert
from tests.support.pipeline import play
from tests.support.ports import free_port, free_ports
from tests.support.standins.fixtures import telegram_env
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e


def test_database_down_gets_503_and_alertmanager_retry_stores_the_alert(
    state_root: Path, telegram: TelegramStandin, capsys: pytest.CaptureFixture[str]
) -> None:
    state = state_root / f"dbdown-{free_port()}"  # the postgres user must be able to enter it
    stack = Stack(
        StackConfig(
            state_dir=state,
            ports=free_ports(),
            scenario="calm",
            fast_timers=True,
            env=telegram_env(telegram),
        ),
        progress=lambda _: None,
    )
    try:
        stack.start()
        assert stack.postgres is not None
        broken = time.monotonic()
        stack.processes["postgres"].stop()  # the database goes away
        play(stack, "global_daily_loss")
        # Alertmanager's own Telegram sender announces it: our delivery needs the database.
        page = telegram.wait_for(
            lambda m: "Alert Database Down" in m.text and "sent by Alertmanager directly" in m.text,
            110,
        )
        took = page.received_at - broken
        # Alertmanager's webhook gets 503 (not 4xx), so it keeps the alert and retries.
        deadline = time.monotonic() + 30
        log = stack.logs / "alertmanager.log"
        while time.monotonic() < deadline and "503" not in log.read_text():
            time.sleep(0.2)
        assert "503" in log.read_text(), "Alertmanager never saw a 503"
        proc = stack.postgres.process()
        stack.processes["postgres"] = proc
        proc.start()
        proc.wait_ready(stack.postgres.accepting, 30)
        wait_rows(
            stack.database_url,
            "SELECT severity, status FROM alert_history "
            "WHERE alertname = 'GlobalGuardDailyLossLimit'",
            [("P0", "firing")],
            90,
        )
        telegram.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 30)
        with capsys.disabled():
            print(
                f"\n[drill] PostgreSQL stopped -> Telegram via Alertmanager (D76DatabaseDown): "
                f"{took:.1f}s; the alert raised meanwhile was stored after the restart"
            )
        assert took < 120
    finally:
        stack.stop()


def test_a_dispatcher_killed_mid_delivery_loses_nothing(
    database_url: str,
    telegram: TelegramStandin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    for path in (REPO / "config").glob("*.yml"):
        (config_dir / path.name).write_text(path.read_text())
    (config_dir / "dev.yml").write_text(
        "receiver:\n  dispatcher: {lease_seconds: 2, idle_wake_seconds: 0.5,"
        " rate_limit_per_window: 1000}\n"
    )
    alerts = [alert(f"Alert{i}", fingerprint=f"{i:016d}") for i in range(30)]
    queue_alerts(database_url, *alerts)
    telegram.delay_seconds = 0.2  # a slow Bot API, so the kill lands mid-delivery
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "D76_CONFIG_DIR": str(config_dir),
        **telegram_env(telegram),
        "D76_ENV": "dev",
    }
    argv = [sys.executable, "-m", "receiver", "dispatch"]
    first = subprocess.Popen(
        argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        telegram.wait_for(lambda m: True, 20)
        while len(telegram.sent()) < 8:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_after = len(telegram.sent())
        second = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_rows(
                database_url, "SELECT count(*) FROM notification WHERE state <> 'sent'", [(0,)], 60
            )
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(5)
    names = Counter(  # the alert's name opens the italic line: "<i>Alert7 · ...</i>"
        line.split(" · ")[0].removeprefix("<i>")
        for m in telegram.sent()
        for line in m.text.split("\n")
        if line.startswith("<i>")
    )
    assert set(names) == {f"Alert{i}" for i in range(30)}, "a notification was lost"
    duplicates = sum(n - 1 for n in names.values())
    with capsys.disabled():
        print(
            f"\n[kill -9] killed after {killed_after} messages; 30 delivered, "
            f"{duplicates} duplicate(s)"
        )
    # At most the one message in flight when the process died can be sent twice.
    assert duplicates <= 1
    assert query(database_url, "SELECT count(*) FROM notification WHERE state = 'sent'") == [(30,)]
