"""Regenerate docs/history-page.png: a seeded history served by the real app, in headless
Chromium. Run from the checkout: .venv/bin/python scripts/screenshot_history.py"""

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

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from bench.common import postgres  # noqa: E402
from receiver import config, store  # noqa: E402
from receiver.web.app import create_app  # noqa: E402
from receiver.webhook_parser import parse  # noqa: E402
from tests.support.payloads import alert, payload  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

RULES = [
    ("GlobalGuardDailyLossLimit", "P0", "RiskGuard", "GlobalGuard BLOCK"),
    ("ExchangeHealthDown", "P1", "HealthMonitor", "Exchange Health DOWN"),
    ("RateLimitLow", "P2", "RateLimiter", "Rate Limit Warning"),
    ("ArbRouteScoreLow", "P2", "ArbRoute", "Route Score Low"),
    ("CrossSyncImbalanceHigh", "P2", "CrossSync", "Inventory Imbalance"),
    ("ArbRouteScorePlunge", "P3", "ArbRoute", "Route Score Plunge"),
]


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
        finally:
            driver.quit()
            server.shutdown()
            conn.close()
    print("wrote docs/history-page.png")


if __name__ == "__main__":
    main()
