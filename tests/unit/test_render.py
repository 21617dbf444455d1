"""Telegram message text: the seed's layout, escaped, always under Telegram's limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from receiver.messages import TELEGRAM_LIMIT
from receiver.model import Claimed
from receiver.templates import email_html, plain_text, slack_body, telegram_text


def claimed(**overrides: Any) -> Claimed:
    values: dict[str, Any] = dict(
        id=1,
        kind="firing",
        target="telegram",
        priority=1,
        attempts=1,
        reply_to=None,
        alert_id=1,
        severity="P1",
        source="ExchangeHealth",
        alertname="ExchangeHealthDown",
        title="Exchange Health DOWN",
        message="",
        status="firing",
        starts_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
        ends_at=None,
        labels={"exchange": "Upbit", "severity": "P1"},
        annotations={
            "summary": "Exchange Health DOWN",
            "description": "Previous: DEGRADED\nCurrent: DOWN",
            "action": "Failover to Binance",
        },
        generator_url="",
    )
    values.update(overrides)
    return Claimed(**values)


def test_layout_follows_the_seed_example() -> None:
    """The rule's lines, then Action; a scope label the rule did not write comes after them."""
    assert telegram_text(claimed(labels={"exchange": "Upbit", "route": "A-B-C"})).splitlines() == [
        "🟠 <b>[P1] Exchange Health DOWN</b>",
        "Previous: DEGRADED",
        "Current: DOWN",
        "Action: Failover to Binance",
        "Exchange: Upbit",
        "Route: A-B-C",
        "<i>ExchangeHealthDown · ExchangeHealth · since 2026-11-24 03:00:00 UTC</i>",
    ]


def test_the_metrics_snapshot_follows_the_description_and_a_rule_may_name_its_emoji() -> None:
    """The seed's health example: the Metrics: block under Current:, then Action, and the red
    circle the seed shows for this P1 (a rule's ``emoji`` annotation)."""
    item = claimed(
        annotations={
            "description": "Exchange: Upbit\nPrevious: DEGRADED\nCurrent: DOWN",
            "metrics": "Metrics:\n  - REST latency: 1,250ms\n  - Error rate: 12.5%",
            "action": "Failover to Binance",
            "emoji": "🔴",
        }
    )
    assert telegram_text(item).splitlines()[:7] == [
        "🔴 <b>[P1] Exchange Health DOWN</b>",
        "Exchange: Upbit",
        "Previous: DEGRADED",
        "Current: DOWN",
        "Metrics:",
        "  - REST latency: 1,250ms",
        "  - Error rate: 12.5%",
    ]
    assert "Action: Failover to Binance" in telegram_text(item)
    assert "REST latency: 1,250ms" in str(slack_body(item))
    text_emoji = claimed(annotations={"emoji": "<b>x</b>", "description": ""})
    assert telegram_text(text_emoji).startswith("🟠 "), "an emoji annotation is never text"


def test_markup_in_labels_and_annotations_is_escaped() -> None:
    text = telegram_text(
        claimed(
            labels={"exchange": "<b>Up&bit</b>"},
            annotations={"description": "spread </code> & <script>", "action": "a<b"},
            title="x < y",
        )
    )
    assert "Exchange: &lt;b&gt;Up&amp;bit&lt;/b&gt;" in text
    assert "spread &lt;/code&gt; &amp; &lt;script&gt;" in text
    assert "Action: a&lt;b" in text
    assert "<b>[P1] x &lt; y</b>" in text
    assert "<script>" not in text


def test_a_huge_annotation_is_cut_under_the_limit_without_breaking_an_entity() -> None:
    text = telegram_text(claimed(annotations={"description": "&" * 10_000}))
    assert len(text) <= TELEGRAM_LIMIT
    body = next(line for line in text.splitlines() if line.startswith("&amp;"))
    assert body.endswith("&amp;…")
    assert body.count("&amp;") == body.count("&")  # every & is a whole entity


def test_resolved_message_says_so_and_when() -> None:
    text = telegram_text(
        claimed(
            kind="resolved", status="resolved", ends_at=datetime(2026, 11, 24, 3, 7, tzinfo=UTC)
        )
    )
    assert text.startswith("✅ <b>[P1] RESOLVED: Exchange Health DOWN</b>")
    assert "Resolved: 2026-11-24 03:07:00 UTC" in text
    assert "Action:" not in text


def test_plain_text_for_the_log_has_no_markup() -> None:
    text = plain_text(claimed(labels={"exchange": "A&B"}))
    assert text.startswith("🟠 [P1] Exchange Health DOWN\nPrevious: DEGRADED")
    assert "\nExchange: A&B\n" in text
    assert "<b>" not in text


RISK = (
    "Risk snapshot:\n  - Portfolio Value: $945,000 (start: $1,000,000)\n"
    "  - Daily PnL: -$55,000 (realised)\n  - Total Exposure: $120,000 (all symbols)"
)


def risky(**overrides: Any) -> Claimed:
    """The seed's High Exposure Risk alert with the engine's risk snapshot."""
    values: dict[str, Any] = dict(
        severity="P1",
        source="CrossSync",
        alertname="CrossSyncExposureHigh",
        title="High Exposure Risk",
        labels={"symbol": "BTC", "engine": "d75", "severity": "P1"},
        annotations={
            "description": "Symbol: BTC\nTotal Exposure: $85,000 (85% of capital)\n"
            "Imbalance Ratio: 0.65 (Upbit heavy)",
            "risk": RISK,
            "action": "Rebalance initiated (BUY Binance, SELL Upbit)",
            "emoji": "⚠️",
        },
    )
    values.update(overrides)
    return claimed(**values)


def test_the_risk_snapshot_follows_the_seeds_lines_after_the_action() -> None:
    """The seed's lines stay together and first; the snapshot comes right after Action, before
    what the product adds (scope, name and time)."""
    assert telegram_text(risky()).splitlines() == [
        "⚠️ <b>[P1] High Exposure Risk</b>",
        "Symbol: BTC",
        "Total Exposure: $85,000 (85% of capital)",
        "Imbalance Ratio: 0.65 (Upbit heavy)",
        "Action: Rebalance initiated (BUY Binance, SELL Upbit)",
        "Risk snapshot:",
        "  - Portfolio Value: $945,000 (start: $1,000,000)",
        "  - Daily PnL: -$55,000 (realised)",
        "  - Total Exposure: $120,000 (all symbols)",
        "Engine: d75",
        "<i>CrossSyncExposureHigh · CrossSync · since 2026-11-24 03:00:00 UTC</i>",
    ]


def test_a_resolved_message_keeps_the_snapshot_where_the_action_was() -> None:
    text = telegram_text(
        risky(kind="resolved", status="resolved", ends_at=datetime(2026, 11, 24, 3, 7, tzinfo=UTC))
    ).splitlines()
    assert "Action:" not in "\n".join(text)
    at = text.index("Risk snapshot:")
    assert text[at - 1] == "Imbalance Ratio: 0.65 (Upbit heavy)"
    assert text[at + 3] == "  - Total Exposure: $120,000 (all symbols)"


def test_every_channel_shows_the_snapshot_after_the_action() -> None:
    item = risky()
    blocks = slack_body(item)["attachments"][0]["blocks"]  # type: ignore[index]
    texts = [block.get("text", {}).get("text", "") for block in blocks]
    action = next(i for i, t in enumerate(texts) if t.startswith("*Action:*"))
    assert texts[action + 1] == RISK
    html = email_html(item)
    assert html.index("<b>Action:</b>") < html.index("Risk snapshot:<br>  - Portfolio Value: $945")
    assert "Daily PnL: -$55,000 (realised)<br>  - Total Exposure: $120,000" in html
    plain = plain_text(item)
    assert "Action: Rebalance initiated (BUY Binance, SELL Upbit)\nRisk snapshot:\n" in plain


def test_the_snapshot_is_escaped_and_absent_when_the_rule_has_none() -> None:
    item = risky(annotations={"description": "Symbol: BTC", "risk": "Risk snapshot:\n  - <b>&"})
    assert "  - &lt;b&gt;&amp;" in telegram_text(item)
    assert "&lt;b&gt;&amp;" in email_html(item)
    assert "Risk snapshot" not in telegram_text(claimed())
    assert "Risk snapshot" not in str(slack_body(claimed()))
    assert "Risk snapshot" not in email_html(claimed())


def test_plain_text_drops_every_telegram_tag_an_operator_template_may_use() -> None:
    """The email's text and the log read Telegram HTML without markup: an operator's <u>,
    <blockquote>, spoilers and single-quoted links included."""
    from receiver.messages import strip_markup

    text = (
        "<b>A</b> <u>x</u> <blockquote expandable>q</blockquote> <tg-spoiler>s</tg-spoiler> "
        '<span class="tg-spoiler">t</span> <a href="http://a?b=1&amp;c=2">L</a> '
        "<a href='http://z'>M</a> &lt;kept&gt;"
    )
    assert strip_markup(text) == "A x q s t L: http://a?b=1&c=2 M: http://z <kept>"
