"""Telegram message text: the seed's layout, escaped, always under Telegram's limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from receiver.messages import TELEGRAM_LIMIT, plain_text, slack_body, telegram_text
from receiver.model import Claimed


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
