"""The history page's alert view against real PostgreSQL: the graph snapshot (the image, its
route, a graph being drawn or skipped), the lifecycle timeline of an alert that was retried,
sent and acknowledged by a real dispatcher, the links its messages carry, and the chart's
axes and legend on the list page."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from receiver.model import SEVERITIES
from tests.support.app import AppFactory
from tests.support.database import query, store_alerts
from tests.support.delivery import fast_settings, queue_alerts, running, wait_state
from tests.support.graph_snapshots import PNG_SIGNATURE, draw_png, png_size, store_graph
from tests.support.payloads import alert
from tests.support.standins.telegram import TelegramStandin

READ = "read-secret-token"
SVG = "{http://www.w3.org/2000/svg}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _alert_id(url: str) -> int:
    (alert_id,) = query(url, "SELECT max(id) FROM alert_history")[0]
    assert isinstance(alert_id, int)
    return alert_id


class _Page(HTMLParser):
    """The parts of the alert view the tests read: the graph's elements, the links, the
    timeline's rows."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []
        self.graph_text = ""
        self.rows: list[list[str]] = []
        self._in: list[str] = []
        self._cell: list[str] | None = None
        self._in_link = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id") in ("graph", "links", "timeline"):
            self._in.append(str(found["id"]))
        elif self._in and tag in ("figure", "p", "table"):
            self._in.append("")
        if tag == "img" and "graph" in self._in:
            self.images.append(found)
        if tag == "a" and "links" in self._in:
            self.links.append({**found, "text": ""})
            self._in_link = True
        if "timeline" in self._in:
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag in ("figure", "p", "table") and self._in:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if "graph" in self._in:
            self.graph_text += data
        if self._in_link:
            self.links[-1]["text"] = (self.links[-1]["text"] or "") + data
        if self._cell is not None:
            self._cell.append(data)


# -- the graph ----------------------------------------------------------------------------------


def test_a_drawn_graph_is_shown_and_served_as_a_png(client: FlaskClient, database_url: str) -> None:
    store_alerts(database_url, alert())
    alert_id = _alert_id(database_url)
    png = draw_png(300, 150)
    expression = 'd75_riskguard_global_daily_loss_usd{engine="d75"} > <limit>'
    store_graph(
        database_url, alert_id, "done", png=png, expression=expression,
        threshold="50000", render_ms=140, finished_at=datetime.now(UTC),
    )  # fmt: skip

    html = client.get(f"/history/{alert_id}").get_data(as_text=True)
    page = _Page(html)
    (img,) = page.images
    assert img["src"] == f"/history/{alert_id}/graph.png"
    assert (img["width"], img["height"]) == ("300", "150")  # read from the PNG's header
    assert img["alt"] == (
        f"Graph of GlobalGuardDailyLossLimit (alert {alert_id}): {expression}, threshold 50000"
    )
    caption = " ".join(page.graph_text.split())
    assert caption.startswith(f"{expression} · threshold 50000 · drawn ")
    assert "<limit>" not in html and "&gt; &lt;limit&gt;" in html  # escaped, not markup
    assert "Graph being drawn" not in html and "No graph" not in html

    served = client.get(img["src"] or "")
    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.data == png
    assert png_size(served.data) == (300, 150)
    assert served.headers["Cache-Control"] == "private, max-age=3600"
    etag = served.headers["ETag"]
    again = client.get(img["src"] or "", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data


SLOW = "Prometheus did not answer in 5 s"


@pytest.mark.parametrize(
    ("state", "note", "says"),
    [
        ("pending", None, "Graph being drawn…"),
        ("rendering", None, "Graph being drawn…"),
        ("skipped", SLOW, f"No graph: {SLOW}"),
    ],
)
def test_a_graph_not_drawn_says_why_and_serves_no_image(
    client: FlaskClient, database_url: str, state: str, note: str | None, says: str
) -> None:
    store_alerts(database_url, alert())
    alert_id = _alert_id(database_url)
    store_graph(database_url, alert_id, state, note=note)
    page = _Page(client.get(f"/history/{alert_id}").get_data(as_text=True))
    assert page.images == []
    assert page.graph_text.strip() == says
    missing = client.get(f"/history/{alert_id}/graph.png")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"


def test_without_a_graph_row_the_view_shows_no_graph(
    client: FlaskClient, database_url: str
) -> None:
    store_alerts(database_url, alert())
    alert_id = _alert_id(database_url)
    html = client.get(f"/history/{alert_id}").get_data(as_text=True)
    assert 'id="graph"' not in html
    assert client.get(f"/history/{alert_id}/graph.png").status_code == 404
    assert client.get("/history/999999/graph.png").status_code == 404


def test_the_graph_needs_what_the_view_needs_and_never_shows_the_token(
    app_factory: AppFactory, database_url: str
) -> None:
    store_alerts(database_url, alert())
    alert_id = _alert_id(database_url)
    store_graph(database_url, alert_id, "done", png=draw_png(), expression="x")
    client = app_factory(HISTORY_API_READ_TOKEN=READ).test_client()
    assert client.get(f"/history/{alert_id}/graph.png").status_code == 401
    assert client.get(f"/history/{alert_id}").status_code == 401
    exchanged = client.get(f"/history/{alert_id}/graph.png?token={READ}")
    assert exchanged.status_code == 303
    assert exchanged.headers["Location"] == f"/history/{alert_id}/graph.png"
    served = client.get(f"/history/{alert_id}/graph.png")
    assert served.status_code == 200 and served.data.startswith(PNG_SIGNATURE)
    view = client.get(f"/history/{alert_id}")
    assert view.status_code == 200
    assert READ not in view.get_data(as_text=True) + str(view.headers)


# -- the timeline -------------------------------------------------------------------------------


def test_the_timeline_tells_a_retried_sent_and_acknowledged_alert_in_order(
    client: FlaskClient, database_url: str, telegram: TelegramStandin
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=5)
    queue_alerts(database_url, alert(starts_at=_iso(started)))
    telegram.fail_next(1, 500, "Internal Server Error", method="sendMessage")
    with running(database_url, fast_settings(telegram)):
        wait_state(database_url, "sent")
    alert_id = _alert_id(database_url)
    view = client.get(f"/history/{alert_id}").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', view)
    assert csrf is not None
    acked = client.post(f"/history/{alert_id}/ack", data={"by": "alice", "csrf": csrf.group(1)})
    assert acked.status_code == 303
    ended = datetime.now(UTC) + timedelta(seconds=1)
    resolved = alert(status="resolved", starts_at=_iso(started), ends_at=_iso(ended))
    store_alerts(database_url, resolved)

    page = _Page(client.get(f"/history/{alert_id}").get_data(as_text=True))
    header, *rows = page.rows
    assert header == ["Time (UTC)", "Event", "Details"]
    assert [event for _, event, _ in rows] == [
        "fired",
        "received",
        "firing → telegram: queued",
        "firing → telegram: retry",
        "firing → telegram: sent",
        "ack",
        "resolved",
    ]
    times = [t for t, _, _ in rows]
    assert times == sorted(times)
    assert times[0] == started.strftime("%Y-%m-%d %H:%M:%S")  # startsAt, in UTC
    assert times[-1] == ended.strftime("%Y-%m-%d %H:%M:%S")  # endsAt
    attempts = query(
        database_url,
        "SELECT to_char(attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), outcome, "
        "error, message_id FROM notification_attempt ORDER BY id",
    )
    (retry_at, retry, error, _), (sent_at, sent, _, message_id) = attempts
    assert (retry, sent) == ("retry", "sent")
    assert rows[3][0] == retry_at and rows[4][0] == sent_at
    assert isinstance(error, str) and "Internal Server Error" in error
    assert rows[3][2].startswith(error)  # the error as it was stored
    assert rows[4][2].startswith(f"message {message_id}")
    assert message_id == str(telegram.sent()[0].message_id)
    assert rows[5][2] == "by web:alice"
    assert rows[1][2] == "stored (receiver d76-p0)"


# -- the links ----------------------------------------------------------------------------------

LABELS = (
    '{alertname="GlobalGuardDailyLossLimit", severity="P0", instance="127.0.0.1:9108", '
    'job="d75", source="RiskGuard"}'
)


def test_the_view_shows_the_links_its_messages_carry_on_the_external_addresses(
    app_factory: AppFactory, database_url: str
) -> None:
    client = app_factory(
        RECEIVER_EXTERNAL_URL="https://alerts.example/d76",
        ALERTMANAGER_EXTERNAL_URL="https://am.example",
        PROMETHEUS_EXTERNAL_URL="https://prom.example/prometheus",
    ).test_client()
    store_alerts(database_url, alert())
    alert_id = _alert_id(database_url)
    links = _Page(client.get(f"/history/{alert_id}").get_data(as_text=True)).links
    assert [(link["text"], link["href"]) for link in links] == [
        ("History", f"https://alerts.example/d76/history/{alert_id}"),
        ("Runbook", "https://alerts.example/d76/runbooks/GlobalGuardDailyLossLimit"),
        ("Graph", "https://prom.example/prometheus/graph?g0.expr=x"),
        ("New silence", f"https://am.example/#/silences/new?filter={quote(LABELS, safe='')}"),
    ]
    assert all(link["target"] == "_blank" and link["rel"] == "noopener" for link in links)

    resolved = alert(status="resolved", ends_at=_iso(datetime.now(UTC)))
    store_alerts(database_url, resolved)
    after = _Page(client.get(f"/history/{alert_id}").get_data(as_text=True)).links
    assert [link["text"] for link in after] == ["History", "Runbook", "Graph"]  # no silence


# -- the chart ----------------------------------------------------------------------------------


def _chart(html: str) -> ET.Element:
    match = re.search(r'<svg id="chart".*?</svg>', html, re.S)
    assert match, "no chart"
    return ET.fromstring(match.group(0))


def _texts(svg: ET.Element, group: str, cls: str) -> list[str]:
    (found,) = [g for g in svg.iter(f"{SVG}g") if g.get("class") == group]
    return [t.text or "" for t in found.iter(f"{SVG}text") if t.get("class") == cls]


def test_the_chart_has_axes_with_ticks_and_titles_and_a_legend(
    client: FlaskClient, database_url: str
) -> None:
    def at(hour: int, minute: int, i: int, severity: str) -> dict[str, object]:
        return alert(
            f"A{i}", severity=severity, fingerprint=f"{i:016x}",
            starts_at=f"2026-11-20T{hour:02d}:{minute:02d}:00Z",
        )  # fmt: skip

    store_alerts(
        database_url,
        *(at(10, 5 * i, i, "P0") for i in range(3)),
        at(10, 30, 3, "P2"),
        at(15, 0, 4, "P1"),
        at(15, 10, 5, "P1"),
    )
    day = client.get("/history?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z")
    html = day.get_data(as_text=True)
    assert "Alerts per hour by severity" in html
    svg = _chart(html)
    assert _texts(svg, "y-axis", "tick") == ["0", "1", "2", "3", "4"]  # the peak: 4 at 10:00
    assert _texts(svg, "y-axis", "axis-title") == ["alerts per hour"]
    assert _texts(svg, "x-axis", "tick") == [
        "Nov 20", "02:00", "04:00", "06:00", "08:00", "10:00", "12:00", "14:00", "16:00",
        "18:00", "20:00", "22:00",
    ]  # fmt: skip
    assert _texts(svg, "x-axis", "axis-title") == ["time (UTC)"]
    legend = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "legend-item"]
    assert [
        (g.get("data-severity"), g.find(f"{SVG}rect").get("fill"), g.find(f"{SVG}text").text)  # type: ignore[union-attr]
        for g in legend
    ] == [(name, s.colour, name) for name, s in SEVERITIES.items()]
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
    titles = sorted((r.find(f"{SVG}title").text or "") for r in bars)  # type: ignore[union-attr]
    assert titles == [
        "2026-11-20 10:00 UTC P0: 3", "2026-11-20 10:00 UTC P2: 1", "2026-11-20 15:00 UTC P1: 2",
    ]  # fmt: skip
    (y_axis,) = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "y-axis"]
    grid = [float(line.get("y1") or 0) for line in y_axis.iter(f"{SVG}line")][:-1]
    assert len(grid) == 5 and grid == sorted(grid, reverse=True)  # 0 at the bottom, 4 on top
    ten = [r for r in bars if "10:00" in (r.find(f"{SVG}title").text or "")]  # type: ignore[union-attr]
    assert min(float(r.get("y") or 0) for r in ten) == pytest.approx(grid[-1], abs=0.2)

    weeks = client.get("/history?from=2026-11-01T00:00:00Z&to=2026-11-15T00:00:00Z")
    svg = _chart(weeks.get_data(as_text=True))
    assert "Alerts per day by severity" in weeks.get_data(as_text=True)
    assert _texts(svg, "y-axis", "axis-title") == ["alerts per day"]
    dates = _texts(svg, "x-axis", "tick")
    assert len(dates) == 7 and all(re.fullmatch(r"Nov \d{1,2}", d) for d in dates)
    days = [int(d.split()[1]) for d in dates]
    assert {b - a for a, b in itertools.pairwise(days)} == {2}  # every other day
    assert _texts(svg, "y-axis", "tick") == ["0", "1"]  # nothing that fortnight
