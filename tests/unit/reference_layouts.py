"""The reference layouts, in Python: what each channel's default template renders, byte for
byte (Telegram HTML, the Slack payload, the email's HTML and plain text). Tests compare the
templates against these on the seed's alerts and on generated ones. The layouts alone are
frozen here; the helpers they call (escaping, cutting, links) are the product's own, tested
on their own."""

from __future__ import annotations

import html
from collections.abc import Sequence

from receiver.messages import (
    RISK_LIMIT,
    SCOPE_LABELS,
    SLACK_SECTION_LIMIT,
    TELEGRAM_LIMIT,
    body,
    email_subject,
    escape_within,
    headline_prefix,
    risk_snapshot,
    slack_link_blocks,
    slack_within,
    strip_markup,
    telegram_links,
)
from receiver.messages import colour as _colour
from receiver.messages import emoji as _emoji
from receiver.messages import telegram_escape as _escape
from receiver.messages import when as _when
from receiver.model import Claimed, Kind, Link


def telegram_text(item: Claimed, links: Sequence[Link] = (), notes: Sequence[str] = ()) -> str:
    """Telegram HTML for one alert notification (firing, resolved or reminder). ``notes``
    (Telegram HTML already) follow the alert's own lines, and the row of links ends it."""
    title = escape_within(item.title, 200)
    head = f"{_emoji(item)} <b>[{_escape(item.severity)}] {headline_prefix(item)}{title}</b>"
    lines = [head]
    description = body(item)
    tail = []
    action = item.annotations.get("action")
    if action and item.kind == Kind.FIRING:
        tail.append(f"Action: {escape_within(action, 500)}")
    risk = risk_snapshot(item)
    if risk:
        tail.append(escape_within(risk, RISK_LIMIT))
    # The seed's lines come first; what the product adds (scope the rule did not write, the
    # outcome, the alert's name and time) follows them.
    for label in SCOPE_LABELS:
        value = item.labels.get(label)
        if value and f"{label.title()}:" not in description:
            tail.append(f"{label.title()}: {escape_within(value, 200)}")
    if item.kind == Kind.RESOLVED:
        if item.fired_and_resolved:
            tail.append(f"Fired: {_when(item.starts_at)} (not delivered before it resolved)")
        tail.append(f"Resolved: {_when(item.ends_at)}")
    if item.kind == Kind.REMINDER:
        tail.append("Still firing and not acknowledged")
    if item.kind == Kind.ESCALATION:
        tail.append("Not acknowledged in time: escalated")
        names = [m for m in item.mentions if m.startswith("@")]  # Telegram knows @usernames
        if names:
            tail.append(f"Attention: {escape_within(' '.join(names), 500)}")
    tail.append(
        f"<i>{escape_within(item.alertname, 200)} · {escape_within(item.source, 60)}"
        f" · since {_when(item.starts_at)}</i>"
    )
    tail.extend(notes)
    row = telegram_links(links)
    if row:
        tail.append(row)
    if description:
        used = sum(len(line) + 1 for line in lines + tail)
        lines.append(escape_within(description, TELEGRAM_LIMIT - used - 1))
    return "\n".join(lines + tail)


def slack_body(item: Claimed, links: Sequence[Link] = ()) -> dict[str, object]:
    """An incoming-webhook payload: Block Kit inside an attachment coloured by severity."""
    resolved = item.kind == Kind.RESOLVED
    head = f"{_emoji(item)} [{item.severity}] {headline_prefix(item)}{item.title}"
    fields = [
        {"type": "mrkdwn", "text": f"*{label.title()}:* {slack_within(value, 200)}"}
        for label in SCOPE_LABELS
        if (value := item.labels.get(label))
    ]
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{slack_within(head, 300)}*"}}
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    description = body(item)
    if description:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": slack_within(description, SLACK_SECTION_LIMIT)},
            }
        )
    action = item.annotations.get("action")
    if action and not resolved:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Action:* {slack_within(action, 500)}"},
            }
        )
    risk = risk_snapshot(item)
    if risk:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": slack_within(risk, RISK_LIMIT)}}
        )
    if item.kind == Kind.ESCALATION:
        # Slack notifies a member named as <@U…>; an @name is shown as it is.
        people = " ".join(m if m.startswith("@") else f"<@{m}>" for m in item.mentions)
        text = "*Not acknowledged in time: escalated.*" + (f" {people}" if people else "")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    context = f"{item.alertname} · {item.source} · since {_when(item.starts_at)}"
    if resolved:
        context += f" · resolved {_when(item.ends_at)}"
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_within(context, 300)}]}
    )
    blocks.extend(slack_link_blocks(links))
    return {
        "text": slack_within(head, 300),
        "attachments": [{"color": _colour(item), "blocks": blocks}],
    }


def email_html(item: Claimed, links: Sequence[Link] = ()) -> str:
    """The message as a small HTML document; every value escaped."""
    esc = html.escape
    anchors = " · ".join(f"<a href='{esc(link.url)}'>{esc(link.label)}</a>" for link in links)
    rows = "".join(
        f"<tr><th align='left'>{esc(label.title())}</th><td>{esc(value)}</td></tr>"
        for label in SCOPE_LABELS
        if (value := item.labels.get(label))
    )
    colour = _colour(item)
    description = esc(body(item)).replace("\n", "<br>")
    action = item.annotations.get("action", "")
    risk = esc(risk_snapshot(item)).replace("\n", "<br>")
    return (
        f"<html><body><h2 style='color:{colour}'>{esc(email_subject(item))}</h2>"
        f"<table>{rows}</table><p style='white-space:pre-wrap'>{description}</p>"
        + (f"<p><b>Action:</b> {esc(action)}</p>" if action and item.kind == Kind.FIRING else "")
        + (f"<p style='white-space:pre-wrap'>{risk}</p>" if risk else "")
        + f"<p><small>{esc(item.alertname)} · {esc(item.source)} · since "
        f"{_when(item.starts_at)}</small></p>"
        + (f"<p>{anchors}</p>" if anchors else "")
        + "</body></html>"
    )


def plain_text(item: Claimed, links: Sequence[Link] = ()) -> str:
    """The same message without markup, for email and for the log when a channel is not
    configured: one "label: URL" line per link."""
    return "\n".join([strip_markup(telegram_text(item)), *(f"{x.label}: {x.url}" for x in links)])
