"""The links under every message: history, runbook, graph and a prefilled new silence, built
from one external address per component, escaped for a URL and then for each channel."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from d76config import ConfigError
from receiver import config, links, messages, templates
from receiver.model import Claimed, Link
from tests.support import REPO

BASE = links.LinkBase(
    receiver="http://127.0.0.1:9095",
    alertmanager="http://127.0.0.1:9093",
    runbooks=frozenset({"ExchangeHealthDown"}),
)
GENERATOR = (
    "http://127.0.0.1:9090/graph?g0.expr=d75_exchange_status%7Bstatus%3D%22DOWN%22%7D&g0.tab=1"
)


def claimed(**overrides: Any) -> Claimed:
    values: dict[str, Any] = dict(
        id=1, kind="firing", target="telegram", priority=1, attempts=1, reply_to=None,
        alert_id=42, severity="P1", source="HealthMonitor", alertname="ExchangeHealthDown",
        title="Exchange Health DOWN", message="", status="firing", starts_at=None, ends_at=None,
        labels={"alertname": "ExchangeHealthDown", "severity": "P1", "exchange": "Upbit"},
        annotations={"description": "Current: DOWN"}, generator_url=GENERATOR,
    )  # fmt: skip
    values.update(overrides)
    return Claimed(**values)


def parse_filter(text: str) -> list[tuple[str, str]]:
    """Alertmanager UI's reading of a filter: {name="JSON string", ...} (Utils/Filter.elm)."""
    assert text.startswith("{") and text.endswith("}")
    matcher = re.compile(r'\s*([^{}!=~,\\"\'` \t\n]+)=("(?:[^"\\]|\\.)*")\s*(,|$)')
    found, rest = [], text[1:-1]
    while rest:
        m = matcher.match(rest)
        assert m, f"unparsable filter at {rest!r}"
        found.append((m.group(1), json.loads(m.group(2))))
        rest = rest[m.end() :]
    return found


def filter_of(url: str) -> str:
    fragment = urlsplit(url).fragment
    assert fragment.startswith("/silences/new?filter=")
    return unquote(fragment.removeprefix("/silences/new?filter="))


# -- each link ------------------------------------------------------------------------------


def test_a_firing_alert_links_its_history_runbook_graph_and_a_new_silence() -> None:
    found = links.for_alert(claimed(), BASE)
    assert [(link.label, link.key) for link in found] == [
        ("History", "history"), ("Runbook", "runbook"), ("Graph", "graph"),
        ("New silence", "silence"),
    ]  # fmt: skip
    urls = {link.key: link.url for link in found}
    assert urls["history"] == "http://127.0.0.1:9095/history/42"
    assert urls["runbook"] == "http://127.0.0.1:9095/runbooks/ExchangeHealthDown"
    assert urls["graph"] == GENERATOR
    assert urls["silence"].startswith("http://127.0.0.1:9093/#/silences/new?filter=%7B")
    assert parse_filter(filter_of(urls["silence"])) == [
        ("alertname", "ExchangeHealthDown"), ("severity", "P1"), ("exchange", "Upbit"),
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["firing", "reminder", "escalation"])
def test_every_page_offers_a_silence_and_a_resolved_alert_does_not(kind: str) -> None:
    assert "silence" in [link.key for link in links.for_alert(claimed(kind=kind), BASE)]
    resolved = links.for_alert(claimed(kind="resolved", status="resolved"), BASE)
    assert [link.key for link in resolved] == ["history", "runbook", "graph"]


@pytest.mark.parametrize(
    "value",
    [
        'say "hi"',  # quotes
        "two words  and\ttab",  # spaces and a tab
        "업비트 東京 Zürich",  # non-ASCII
        'back\\slash "\\" end',  # backslashes next to quotes
        "line\nbreak, {braces} = ~!",  # matcher syntax and a newline
        "a&b<c>#d?e=f%20",  # what a URL or HTML would read
    ],
)
def test_a_silence_filter_keeps_any_label_value_exactly(value: str) -> None:
    url = links.silence_url(BASE, {"alertname": "X", "exchange": value})
    assert url.isascii() and not re.search(r"[\s\"<>'{}|\\^`]", url), "a plain ASCII URL"
    assert url.count("#") == 1 and "&" not in url, "one fragment, one parameter"
    assert parse_filter(filter_of(url)) == [("alertname", "X"), ("exchange", value)]


def test_the_filter_is_alertmanagers_matcher_syntax() -> None:
    text = links.silence_filter({"zone": "b", "alertname": "A", "env": 'x "y"', "severity": "P0"})
    assert text == '{alertname="A", severity="P0", env="x \\"y\\"", zone="b"}'
    assert links.silence_filter({"exchange": "東京"}) == '{exchange="東京"}'


def test_a_runbook_link_only_where_a_runbook_exists() -> None:
    unknown = claimed(alertname="RebalanceFailed3x", annotations={})
    assert "runbook" not in [link.key for link in links.for_alert(unknown, BASE)]
    elsewhere = claimed(
        alertname="RebalanceFailed3x", annotations={"runbook_url": "https://wiki.example/rb"}
    )
    assert links.runbook_url(BASE, elsewhere.alertname, elsewhere.annotations) == (
        "https://wiki.example/rb"
    )
    for bad in ("docs/runbooks/X.md", "javascript:alert(1)", "https://u:p@wiki.example/rb"):
        assert links.runbook_url(BASE, "Nope", {"runbook_url": bad}) is None


def test_the_graph_moves_onto_the_external_prometheus_when_one_is_set() -> None:
    moved = links.LinkBase("http://r", "http://a", prometheus="https://prom.example/p")
    assert links.graph_url(moved, GENERATOR) == (
        "https://prom.example/p/graph?g0.expr=d75_exchange_status%7Bstatus%3D%22DOWN%22%7D&g0.tab=1"
    )
    assert links.graph_url(BASE, GENERATOR) == GENERATOR, "unset: as Prometheus wrote it"
    assert links.graph_url(moved, "http://hostname:9090/prom/graph?g0.expr=up") == (
        "https://prom.example/p/graph?g0.expr=up"
    )
    for missing in ("", "javascript:alert(1)", "/graph?g0.expr=up", "http://u:pw@h/graph"):
        assert links.graph_url(BASE, missing) is None
    huge = "http://127.0.0.1:9090/graph?g0.expr=" + "x" * 5000
    assert links.graph_url(BASE, huge) is None, "a link no channel would take is left out"


def test_runbooks_are_found_in_the_directory_the_receiver_serves() -> None:
    names = links.runbook_names(REPO / "docs" / "runbooks")
    assert {"ExchangeHealthDown", "GlobalGuardDailyLossLimit", "D76WatchdogMissing"} <= names
    assert links.runbook_names(Path("/nonexistent")) == frozenset()


# -- settings -------------------------------------------------------------------------------


def test_unset_addresses_come_from_the_stacks_own(config_env: Any) -> None:
    settings = config.load()
    assert settings.link_urls() == ("http://127.0.0.1:9095", "http://127.0.0.1:9093", None)
    config_env.setenv("RECEIVER_PORT", "19095")
    config_env.setenv("ALERTMANAGER_URL", "http://am-user:am-pass@127.0.0.1:19093/")
    assert config.load().link_urls() == (
        "http://127.0.0.1:19095",
        "http://127.0.0.1:19093",
        None,
    ), "no credentials of an internal address reach a message"


def test_external_addresses_are_read_from_the_environment(config_env: Any) -> None:
    config_env.setenv("RECEIVER_EXTERNAL_URL", "https://alerts.example/d76/")
    config_env.setenv("ALERTMANAGER_EXTERNAL_URL", "https://am.example")
    config_env.setenv("PROMETHEUS_EXTERNAL_URL", "https://prom.example")
    base = links.base_for(config.load(), frozenset())
    assert (base.receiver, base.alertmanager, base.prometheus) == (
        "https://alerts.example/d76",
        "https://am.example",
        "https://prom.example",
    )
    assert links.history_url(base, 7) == "https://alerts.example/d76/history/7"


@pytest.mark.parametrize(
    "value", ["ftp://x", "127.0.0.1:9095", "https://user:secret@x", "https://x/?token=1", "http://"]
)
def test_a_bad_external_address_stops_start_up_naming_its_key(config_env: Any, value: str) -> None:
    config_env.setenv("RECEIVER_EXTERNAL_URL", value)
    with pytest.raises(ConfigError, match=r"receiver\.links\.receiver_url") as raised:
        config.load()
    assert "secret" not in str(raised.value), "the message never repeats the value"


# -- in each channel ------------------------------------------------------------------------

LINKS = [
    Link("History", "http://127.0.0.1:9095/history/42", "history"),
    Link("Graph", "http://127.0.0.1:9090/graph?g0.expr=up&g0.tab=1", "graph"),
    Link("New silence", links.silence_url(BASE, {"alertname": 'A"b'}), "silence"),
]


def test_telegram_shows_a_row_of_text_links_last() -> None:
    text = templates.telegram_text(claimed(), LINKS, ["✅ Acknowledged by @alice at 21:31 UTC"])
    *_, note, row = text.splitlines()
    assert note.startswith("✅ Acknowledged")
    assert row.startswith("🔗 ")
    hrefs = re.findall(r'<a href="([^"]*)">([^<]*)</a>', row)
    assert [(html.unescape(u), label) for u, label in hrefs] == [(x.url, x.label) for x in LINKS]
    assert "&amp;g0.tab=1" in row, "an & in a URL is escaped in the attribute"
    assert templates.telegram_text(claimed()).count("<a ") == 0, "no links: no row"


def test_telegram_stays_under_its_limit_with_links() -> None:
    text = templates.telegram_text(claimed(annotations={"description": "x" * 10_000}), LINKS)
    assert len(text) <= messages.TELEGRAM_LIMIT
    assert text.splitlines()[-1].startswith("🔗 ")


def test_plain_text_and_the_telegram_fallback_keep_the_urls() -> None:
    plain = templates.plain_text(claimed(), LINKS)
    assert plain.splitlines()[-3:] == [f"{x.label}: {x.url}" for x in LINKS]
    fallback = messages.strip_markup(templates.telegram_text(claimed(), LINKS))
    assert all(x.url in fallback for x in LINKS)
    assert "<a" not in fallback


def test_slack_shows_url_buttons() -> None:
    body = templates.slack_body(claimed(), LINKS)
    blocks = body["attachments"][0]["blocks"]  # type: ignore[index]
    (row,) = [b for b in blocks if b.get("block_id") == "d76_links"]
    assert row["type"] == "actions"
    assert [(e["text"]["text"], e["url"], e["action_id"]) for e in row["elements"]] == [
        (x.label, x.url, f"d76_link_{x.key}") for x in LINKS
    ]
    assert not [b for b in templates.slack_body(claimed())["attachments"][0]["blocks"]  # type: ignore[index]
                if b.get("block_id") == "d76_links"]  # fmt: skip


def test_email_shows_links_in_html_and_text() -> None:
    page = templates.email_html(claimed(), LINKS)
    hrefs = re.findall(r"<a href='([^']*)'>([^<]*)</a>", page)
    assert [(html.unescape(u), label) for u, label in hrefs] == [(x.url, x.label) for x in LINKS]


def test_slack_socket_mode_leaves_a_link_press_alone() -> None:
    """Slack tells an app about a url button's press too: it is no Ack, nor a refusal."""
    from types import SimpleNamespace

    from receiver.channels.slack_socket import SlackActions

    pressed: list[str] = []
    fake = SimpleNamespace(_press=lambda payload, action: pressed.append(action["action_id"]))
    client = SimpleNamespace(send_socket_mode_response=lambda response: None)
    actions = [{"action_id": "d76_link_history"}, {"action_id": "d76_ack", "value": "1"}]
    request = SimpleNamespace(
        envelope_id="e1", type="interactive", payload={"type": "block_actions", "actions": actions}
    )
    SlackActions._on_request(fake, client, request)  # type: ignore[arg-type]
    assert pressed == ["d76_ack"]
