"""Regenerate docs/history-page.png and docs/history-alert.png: a seeded history served by
the real app, in headless Chromium; the alert view's alert was delivered by a real dispatcher
to the Telegram stand-in (one retry), acknowledged, given a graph snapshot and resolved.
Run from the checkout: .venv/bin/python scripts/screenshot_history.py"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from bench.common import postgres  # noqa: E402
from receiver import config, store  # noqa: E402
from receiver.graphs.prometheus import Series  # noqa: E402
from receiver.graphs.render import render, unit_of  # noqa: E402
from receiver.web.app import create_app  # noqa: E402
from receiver.webhook_parser import parse  # noqa: E402
from tests.support.delivery import fast_settings, running, wait_state  # noqa: E402
from tests.support.payloads import alert, payload  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.standins.telegram import TelegramStandin  # noqa: E402

RULES = [
    ("GlobalGuardDailyLossLimit", "P0", "RiskGuard", "GlobalGuard BLOCK"),
    ("ExchangeHealthDown", "P1", "HealthMonitor", "Exchange Health DOWN"),
    ("RateLimitLow", "P2", "RateLimiter", "Rate Limit Warning"),
    ("ArbRouteScoreLow", "P2", "ArbRoute", "Route Score Low"),
    ("CrossSyncImbalanceHigh", "P2", "CrossSync", "Inventory Imbalance"),
    ("ArbRouteScorePlunge", "P3", "ArbRoute", "Route Score Plunge"),
]


def _graph_png(start: datetime) -> bytes:
    """A snapshot drawn as the graph worker draws one (``receiver.graphs.render``): the day's
    loss crossing its limit."""
    now = datetime.now(UTC)
    begin = start - timedelta(minutes=30)
    times = [begin.timestamp() + 10 * i for i in range(int((now - begin).total_seconds() // 10))]
    loss = [min(58_000.0, 38_000 + 11 * (t - begin.timestamp())) for t in times]
    series = Series({"__name__": "d75_riskguard_global_daily_loss_usd"}, times, loss)
    return render(
        title="[P0] GlobalGuard BLOCK",
        subtitle="d75_riskguard_global_daily_loss_usd > 50000",
        series=[series],
        threshold=50_000.0,
        fired_at=start,
        unit=unit_of("d75_riskguard_global_daily_loss_usd"),
        start=begin,
        end=now,
    )


def _one_alert_lived(dsn: str) -> int:
    """An alert delivered after one retry, acknowledged, drawn and resolved; its id."""
    telegram = TelegramStandin().start()
    try:
        start = datetime.now(UTC) - timedelta(minutes=6)
        fired = alert(
            fingerprint="ffff000000000001",
            starts_at=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            labels={"tier": "GlobalGuard"},
        )
        conn = store.connect(dsn)
        store.ingest(conn, parse(payload(fired)), ["telegram"])
        telegram.fail_next(1, 502, "Bad Gateway", method="sendMessage")
        with running(dsn, fast_settings(telegram)):
            wait_state(dsn, "sent")
            with conn, conn.cursor() as cur:
                cur.execute("SELECT id FROM alert_history WHERE fingerprint = 'ffff000000000001'")
                (alert_id,) = cur.fetchone() or (0,)
                cur.execute(
                    """INSERT INTO alert_graph (alert_id, alert_ts, state, expression, threshold,
                                                png, render_ms, finished_at)
                       SELECT id, timestamp, 'done', %s, '50000', %s, 180, now()
                         FROM alert_history WHERE id = %s""",
                    (
                        "d75_riskguard_global_daily_loss_usd",
                        psycopg2.Binary(_graph_png(start)),
                        alert_id,
                    ),
                )
            store.acknowledge(conn, alert_id, "telegram:@alice", "on it")
            ended = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            resolved = {**fired, "status": "resolved", "endsAt": ended}
            store.ingest(conn, parse(payload(resolved)), ["telegram"])
            wait_state(dsn, "sent")
        conn.close()
        return int(alert_id)
    finally:
        telegram.stop()


def main() -> None:
    rng = random.Random(76)
    with postgres() as dsn:
        conn = store.connect(dsn)
        now = datetime.now(UTC)
        alerts = []
        for i in range(120):
            name, severity, source, summary = rng.choice(RULES)
            start = now - timedelta(minutes=rng.randint(1, 24 * 60))
            alerts.append(
                alert(
                    name,
                    severity=severity,
                    source=source,
                    fingerprint=f"{i:016x}",
                    starts_at=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    labels={"exchange": rng.choice(["Upbit", "Binance"])},
                    annotations={"summary": summary, "description": summary},
                )
            )
        store.ingest(conn, parse(payload(*alerts)), [])
        alert_id = _one_alert_lived(dsn)
        os.environ.update(DATABASE_URL=dsn, D76_CONFIG_DIR=str(REPO / "config"))
        server = make_server("127.0.0.1", free_port(), create_app(config.load()), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1300,900",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tempfile.mkdtemp()}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.get(f"http://127.0.0.1:{server.server_port}/history?limit=12")
            driver.save_screenshot(str(REPO / "docs" / "history-page.png"))
            driver.set_window_size(1000, 1500)
            driver.get(f"http://127.0.0.1:{server.server_port}/history/{alert_id}")
            driver.save_screenshot(str(REPO / "docs" / "history-alert.png"))
        finally:
            driver.quit()
            server.shutdown()
            conn.close()
    print("wrote docs/history-page.png and docs/history-alert.png")


if __name__ == "__main__":
    main()
