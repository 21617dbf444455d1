"""The links under a Telegram message lead somewhere on the running stack: an alert fired by
Prometheus (and one posted to Alertmanager with awkward label values) reaches the Telegram
stand-in, and each link it carries (history, runbook, graph, new silence) answers 200; the
graph's expression is the alert's and holds now, the silence form is prefilled with the
alert's exact labels (in Alertmanager's UI, in headless Chromium) and its filter selects that
alert in Alertmanager's API. No link carries a token. The URL building and its escaping in
detail: tests/unit/test_links.py."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from stack.stack import Stack
from tests.support import REPO
from tests.support.pipeline import play
from tests.support.standins.telegram import TOKEN, SentMessage, TelegramStandin

pytestmark = pytest.mark.e2e
ANCHOR = re.compile(r'<a href="([^"]*)">([^<]*)</a>')
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)=("(?:[^"\\]|\\.)*")')
AWKWARD = 'Up "bit" 東京 Zürich \\ {x=1}'  # quotes, spaces, non-ASCII, backslash, syntax


@pytest.fixture
def alertmanager_ui(tmp_path: Path) -> Path:
    """Alertmanager's web UI, as `make run` serves it (extracted from Debian's Go source)."""
    target = tmp_path / "alertmanager-ui"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "extract_alertmanager_ui.py"), str(target)],
        check=True,
        capture_output=True,
    )
    return target


def links_of(message: SentMessage) -> dict[str, str]:
    """Label -> URL of the text links in a Telegram HTML message."""
    return {label: html.unescape(url) for url, label in ANCHOR.findall(message.text)}


def get(url: str) -> tuple[int, str]:
    """GET as a browser would (the fragment stays in the browser)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8", "replace")


def silence_matchers(url: str) -> list[str]:
    """The matchers of a new-silence link, each as Alertmanager's matcher syntax."""
    fragment = urlsplit(url).fragment
    assert fragment.startswith("/silences/new?filter="), url
    text = unquote(fragment.removeprefix("/silences/new?filter="))
    assert text.startswith("{") and text.endswith("}"), text
    found = [m.group(0) for m in MATCHER.finditer(text)]
    assert "{" + ", ".join(found) + "}" == text, 'every matcher is name="value"'
    return found


def alertmanager_alerts(stack: Stack, matchers: list[str]) -> list[dict[str, Any]]:
    query = urlencode([("filter", m) for m in matchers])
    _, body = get(f"{stack.url('alertmanager')}/api/v2/alerts?{query}")
    return list(json.loads(body))


def form_matchers(browser: Any, url: str) -> str:
    """What Alertmanager's new-silence form shows once it has read the link's filter."""
    browser.get(url)

    def shown(driver: Any) -> str | bool:
        text = str(driver.find_element(By.TAG_NAME, "body").text)
        return text if "alertname=" in text else False

    return str(WebDriverWait(browser, 20).until(shown))


def check_links(stack: Stack, message: SentMessage, expected: list[str]) -> dict[str, str]:
    found = links_of(message)
    assert list(found) == expected, message.text
    for label, url in found.items():
        assert url.startswith("http://127.0.0.1:"), (label, url)
        assert TOKEN not in url and "token" not in url.lower(), (label, url)
        status, _ = get(url)
        assert status == 200, (label, url)
    return found


def test_every_link_in_a_telegram_message_resolves_on_the_running_stack(
    pipeline: Stack, telegram: TelegramStandin, browser: Any
) -> None:
    play(pipeline, "global_daily_loss")
    page = telegram.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 30)
    assert page.text.splitlines()[-1].startswith("🔗 "), "the links are the message's last row"
    found = check_links(pipeline, page, ["History", "Runbook", "Graph", "New silence"])
    assert [label for label, _ in page.buttons] == [
        "✅ Ack",
        "🔕 Silence 1h",
        "🔇 Mute until resolved",
    ], "the callback buttons stay"

    # History: the alert's own entry.
    alert_id = int(found["History"].rsplit("/", 1)[1])
    assert found["History"] == f"{pipeline.url('receiver')}/history/{alert_id}"
    _, entry = get(found["History"])
    assert "GlobalGuardDailyLossLimit" in entry
    _, api = get(f"{pipeline.url('receiver')}/api/v1/alerts/{alert_id}")
    assert json.loads(api)["alertname"] == "GlobalGuardDailyLossLimit"

    # Runbook: the receiver's page for this alert.
    assert found["Runbook"] == f"{pipeline.url('receiver')}/runbooks/GlobalGuardDailyLossLimit"
    _, runbook = get(found["Runbook"])
    assert "GlobalGuardDailyLossLimit" in runbook and "Mitigation" in runbook

    # Graph: Prometheus's page for the rule's expression, which holds now.
    graph = urlsplit(found["Graph"])
    assert f"{graph.scheme}://{graph.netloc}" == pipeline.url("prometheus")
    assert graph.path == "/graph"
    expression = parse_qs(graph.query)["g0.expr"][0]
    _, result = get(f"{pipeline.url('prometheus')}/api/v1/query?query={quote(expression)}")
    assert json.loads(result)["data"]["result"], f"{expression} holds while the alert fires"

    # New silence: the alert's exact labels, as Alertmanager's UI and API read them.
    assert found["New silence"].startswith(f"{pipeline.url('alertmanager')}/#/silences/new?")
    matchers = silence_matchers(found["New silence"])
    (selected,) = alertmanager_alerts(pipeline, matchers)
    assert selected["labels"]["alertname"] == "GlobalGuardDailyLossLimit"
    assert len(matchers) == len(selected["labels"]), "every label of the alert, no more"
    shown = form_matchers(browser, found["New silence"])
    assert all(m in shown for m in matchers), (matchers, shown)

    # Ack edits the message: its links stay.
    ack = dict(page.buttons)["✅ Ack"]
    telegram.press(page, ack, user_id=4242, username="alice")
    deadline = time.monotonic() + 15
    edited = ""
    while time.monotonic() < deadline and "Acknowledged by @alice" not in edited:
        current = next(m for m in telegram.sent() if m.message_id == page.message_id)
        edited = current.edits[-1] if current.edits else ""
        time.sleep(0.1)
    assert "Acknowledged by @alice" in edited
    assert ANCHOR.findall(edited) == ANCHOR.findall(page.text)

    # The resolve links the same history, runbook and graph; nothing is left to silence.
    play(pipeline, "calm")
    resolved = telegram.wait_for(lambda m: "RESOLVED: GlobalGuard BLOCK" in m.text, 40)
    again = check_links(pipeline, resolved, ["History", "Runbook", "Graph"])
    assert again == {k: v for k, v in found.items() if k != "New silence"}


def test_a_silence_link_keeps_awkward_label_values_exactly(
    pipeline: Stack, telegram: TelegramStandin, browser: Any
) -> None:
    """Posted straight to Alertmanager (as D75's send_alert() does), with a label value of
    quotes, spaces, a backslash, matcher syntax and non-ASCII."""
    now = datetime.now(UTC)
    alert = {
        "labels": {
            "alertname": "ExchangeHealthDown",
            "severity": "P1",
            "source": "HealthMonitor",
            "exchange": AWKWARD,
        },
        "annotations": {"summary": "Exchange Health DOWN", "description": "Current: DOWN"},
        "startsAt": now.isoformat().replace("+00:00", "Z"),
        "endsAt": (now + timedelta(minutes=10)).isoformat().replace("+00:00", "Z"),
        "generatorURL": f"{pipeline.url('prometheus')}/graph?g0.expr=up&g0.tab=1",
    }
    request = urllib.request.Request(
        f"{pipeline.url('alertmanager')}/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    page = telegram.wait_for(lambda m: "[P1] Exchange Health DOWN" in m.text, 30)
    found = check_links(pipeline, page, ["History", "Runbook", "Graph", "New silence"])

    matchers = silence_matchers(found["New silence"])
    assert 'exchange="Up \\"bit\\" 東京 Zürich \\\\ {x=1}"' in matchers
    (selected,) = alertmanager_alerts(pipeline, matchers)
    assert selected["labels"] == alert["labels"]
    shown = form_matchers(browser, found["New silence"])
    assert all(m in shown for m in matchers), (matchers, shown)
