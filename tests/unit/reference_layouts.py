"""The reference layouts, in Python: what each channel's default template renders, byte for
byte (Telegram HTML, the Slack payload, the email's HTML and plain text). Tests compare the
templates against these on the seed's alerts and on generated ones."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from receiver.model import (
    ESCALATION_EMOJI,
    REMINDER_EMOJI,
    RESOLVED_COLOUR,
    RESOLVED_EMOJI,
    Claimed,
    Kind,
    Link,
    severity,
)

TELEGRAM_LIMIT = 4096  # characters per message, after entity parsing
# Labels shown as "Key: value" when the description does not already say them. `engine` names
# the D75 engine (a Prometheus target label) when several are watched.
SCOPE_LABELS = ("engine", "exchange", "category", "route", "symbol", "tier")


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _slack_escape(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_within(text: str, limit: int, escape: Callable[[str], str] = _escape) -> str:
    """Escape ``text`` for a channel's markup and cut it to ``limit`` characters without
    splitting an entity; a cut text ends with "…". Telegram HTML unless ``escape`` says."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(0, limit - 1)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def slack_within(text: str, limit: int) -> str:
    return escape_within(text, limit, _slack_escape)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def headline_prefix(item: Claimed) -> str:
    """What the message tells, before the title: nothing for a firing."""
    if item.kind == Kind.REMINDER:
        return "STILL FIRING: "
    if item.kind == Kind.ESCALATION:
        return "ESCALATED: "
    if item.kind == Kind.RESOLVED:
        return "FIRED AND RESOLVED: " if item.fired_and_resolved else "RESOLVED: "
    return ""


def _emoji(item: Claimed) -> str:
    """Resolved and reminder marks; a firing shows its severity's, or the rule's own ``emoji``
    annotation where the seed's example uses another (at most 4 characters, no text)."""
    if item.kind == Kind.RESOLVED:
        return RESOLVED_EMOJI
    if item.kind == Kind.REMINDER:
        return REMINDER_EMOJI
    if item.kind == Kind.ESCALATION:
        return ESCALATION_EMOJI
    own = item.annotations.get("emoji", "").strip()
    if own and len(own) <= 4 and not any(c.isalnum() or c in "<>&" for c in own):
        return own
    return severity(item.severity).emoji


def body(item: Claimed) -> str:
    """The rule's description, then its ``metrics`` annotation: the signals at the moment the
    alert fired (the seed's "Metrics:" block), read by Prometheus when it fired."""
    parts = [item.annotations.get("description", ""), item.annotations.get("metrics", "")]
    return "\n".join(part for part in parts if part)


RISK_LIMIT = 1000  # characters of the risk snapshot (three lines of ~60)


def risk_snapshot(item: Claimed) -> str:
    """The rule's ``risk`` annotation: the engine's portfolio value, the day's realised PnL and
    total exposure when the alert fired (P0/P1 RiskGuard and CrossSync alerts). Every channel
    shows it right after the Action line, so the seed's lines stay together before it."""
    return item.annotations.get("risk", "").strip()


def telegram_links(links: Sequence[Link]) -> str:
    """The links as one row of Telegram HTML. Text links, not URL buttons: Telegram refuses a
    whole message whose URL button it finds invalid (``http://localhost:…``), and a text link
    survives every edit of the message."""
    anchors = [
        f'<a href="{html.escape(link.url, quote=True)}">{_escape(link.label)}</a>' for link in links
    ]
    return f"🔗 {' · '.join(anchors)}" if anchors else ""


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


SLACK_SECTION_LIMIT = 3000  # characters of mrkdwn text in one section block


def _colour(item: Claimed) -> str:
    return RESOLVED_COLOUR if item.kind == Kind.RESOLVED else severity(item.severity).colour


SLACK_URL_LIMIT = 3000  # characters of a button's url


def slack_link_blocks(links: Sequence[Link]) -> list[dict[str, object]]:
    """The links as a row of Block Kit url buttons (each opens its page; in app mode the
    press also reaches Socket Mode, which leaves ``d76_link_*`` alone)."""
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": link.label[:75]},
            "url": link.url,
            "action_id": f"d76_link_{link.key}",
        }
        for link in links
        if len(link.url) <= SLACK_URL_LIMIT
    ]
    return [{"type": "actions", "block_id": "d76_links", "elements": elements}] if elements else []


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


def email_subject(item: Claimed) -> str:
    return f"[{item.severity}] {headline_prefix(item)}{item.title} ({item.alertname})"[:200]


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


_TAG = re.compile(r"</?(?:b|i|code|pre)>")
_ANCHOR = re.compile(r'<a href="([^"]*)">([^<]*)</a>')


def strip_markup(text: str) -> str:
    """Telegram HTML as plain text: our tags removed, a link as "label: URL", entities
    decoded."""
    return html.unescape(_ANCHOR.sub(r"\2: \1", _TAG.sub("", text)))


def plain_text(item: Claimed, links: Sequence[Link] = ()) -> str:
    """The same message without markup, for email and for the log when a channel is not
    configured: one "label: URL" line per link."""
    return "\n".join([strip_markup(telegram_text(item)), *(f"{x.label}: {x.url}" for x in links)])
