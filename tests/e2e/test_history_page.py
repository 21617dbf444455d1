"""The history page in headless Chromium (Debian's chromium and chromedriver): it loads,
filters work, the Ack button acknowledges, the timeline shows an alert's lifecycle, the alert
view shows its graph snapshot and the chart its axes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from tests.support.database import query, store_alerts
from tests.support.graph_snapshots import draw_png, store_graph
from tests.support.payloads import alert
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e


def _ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def site(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def click_and_load(driver: Any, element: Any) -> None:
    """Click something that loads a new page, and wait until it has."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 10).until(expected_conditions.staleness_of(old))


def rows(driver: Any) -> list[str]:
    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#alerts tr[data-id]")]


def test_the_page_loads_filters_acks_and_shows_a_timeline(
    site: str, browser: Any, database_url: str, tmp_path: Path
) -> None:
    store_alerts(
        database_url,
        alert("GlobalGuardDailyLossLimit", severity="P0", fingerprint="a1", starts_at=_ago(50)),
        alert(
            "ExchangeHealthDown",
            severity="P1",
            source="ExchangeHealth",
            fingerprint="b1",
            starts_at=_ago(40),
            labels={"exchange": "Upbit"},
        ),
        alert(
            "RateLimitLow",
            severity="P2",
            source="RateLimiter",
            fingerprint="c1",
            starts_at=_ago(30),
            labels={"exchange": "Binance"},
        ),
        alert(
            "ArbRouteScorePlunge",
            severity="P3",
            source="ArbRoute",
            fingerprint="d1",
            starts_at=_ago(20),
        ),
    )
    browser.get(f"{site}/history")
    assert browser.title == "D75 alert history"
    assert len(rows(browser)) == 4
    assert browser.find_elements(By.CSS_SELECTOR, "#chart rect"), "the chart has no bars"
    p0 = browser.find_element(By.CSS_SELECTOR, "#alerts .sev.P0")
    assert p0.value_of_css_property("background-color") == "rgba(208, 0, 0, 1)"
    browser.save_screenshot(str(tmp_path / "history.png"))

    # Filter: only P0 and P1, through the form.
    for severity in ("P0", "P1"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=severity][value={severity}]").click()
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    assert [r.split("\n")[0] for r in rows(browser)] and all(
        "P0" in r or "P1" in r for r in rows(browser)
    )
    assert len(rows(browser)) == 2
    browser.find_element(By.CSS_SELECTOR, "input[name=label]").send_keys("exchange:Upbit")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    (only,) = rows(browser)
    assert "ExchangeHealthDown" in only

    # Ack from the page.
    row = browser.find_element(By.CSS_SELECTOR, "#alerts tr[data-id]")
    row.find_element(By.CSS_SELECTOR, "input[name=by]").send_keys("alice")
    click_and_load(browser, row.find_element(By.CSS_SELECTOR, "button[name=ack]"))
    assert "✅ web:alice" in rows(browser)[0]
    assert query(
        database_url, "SELECT acknowledged_by FROM alert_history WHERE fingerprint = 'b1'"
    ) == [("web:alice",)]

    # The timeline of that alert.
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#alerts tr[data-id] td a"))
    timeline = browser.find_element(By.ID, "timeline").text
    assert "fired" in timeline and "ack" in timeline and "web:alice" in timeline


def test_a_bad_filter_is_shown_not_crashed(site: str, browser: Any) -> None:
    browser.get(f"{site}/history?from=yesterday")
    assert "from: not a time" in browser.find_element(By.ID, "error").text


def test_the_alert_view_shows_its_graph_and_the_chart_its_axes(
    site: str, browser: Any, database_url: str
) -> None:
    store_alerts(database_url, alert(starts_at=_ago(10)))
    ((alert_id,),) = query(database_url, "SELECT max(id) FROM alert_history")
    assert isinstance(alert_id, int)
    store_graph(database_url, alert_id, "done", png=draw_png(320, 160), expression="x > 1")
    browser.get(f"{site}/history/{alert_id}")
    image = browser.find_element(By.CSS_SELECTOR, "#graph img")
    WebDriverWait(browser, 10).until(lambda _: image.get_property("complete"))
    assert image.get_property("naturalWidth") == 320  # loaded and decoded, CSP and all
    assert image.get_property("naturalHeight") == 160
    links = browser.find_elements(By.CSS_SELECTOR, "#links a")
    assert [a.text for a in links] == ["History", "Runbook", "Graph", "New silence"]

    browser.get(f"{site}/history")
    titles = browser.find_elements(By.CSS_SELECTOR, "#chart .axis-title")
    assert [t.text for t in titles] == ["alerts per hour", "time (UTC)"]
    assert browser.find_elements(By.CSS_SELECTOR, "#chart .bar"), "the chart has no bars"
