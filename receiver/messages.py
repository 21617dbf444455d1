"""How messages read, per channel: the helpers every layout uses, and the texts that have no
template (digests, buttons, action lines).

    🔴 [P0] GlobalGuard BLOCK
    Reason: Global Daily Loss Limit
    Daily Loss: $55,000 / $50,000 (limit)
    Action: Trading HALTED until next day

An alert's message itself is laid out by a template (``receiver/default_templates/``, or an
operator's: ``receiver.templates``), which calls the helpers here. ``telegram_text``,
``slack_body``, ``email_html`` and ``plain_text`` are the default layouts. Every value that
comes from labels or annotations is escaped for the channel's markup.
"""

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
    Action,
    Claimed,
    Digest,
    Kind,
    Link,
    severity,
)

TELEGRAM_LIMIT = 4096  # characters per message, after entity parsing
# Labels shown as "Key: value" when the description does not already say them. `engine` names
# the D75 engine (a Prometheus target label) when several are watched.
SCOPE_LABELS = ("engine", "exchange", "category", "route", "symbol", "tier")


def telegram_escape(text: str) -> str:
    """Telegram HTML: <, > and & as entities (quotes need none)."""
    return html.escape(text, quote=False)


def slack_escape(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_within(text: str, limit: int, escape: Callable[[str], str] = telegram_escape) -> str:
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
    return escape_within(text, limit, slack_escape)


def when(moment: datetime | None) -> str:
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


def emoji(item: Claimed) -> str:
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
        f'<a href="{html.escape(link.url, quote=True)}">{telegram_escape(link.label)}</a>'
        for link in links
    ]
    return f"🔗 {' · '.join(anchors)}" if anchors else ""


def telegram_mentions(item: Claimed) -> str:
    """The @usernames an escalation calls on, as Telegram shows them (it knows @usernames)."""
    return " ".join(m for m in item.mentions if m.startswith("@"))


def slack_mentions(item: Claimed) -> str:
    """An escalation's people as Slack mrkdwn: a member id as ``<@U…>`` (Slack notifies it),
    an @name as it is. From the settings, never from an alert."""
    return " ".join(m if m.startswith("@") else f"<@{m}>" for m in item.mentions)


SLACK_SECTION_LIMIT = 3000  # characters of mrkdwn text in one section block


def colour(item: Claimed) -> str:
    """Slack's bar and the email heading: the severity's colour, green once resolved."""
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


def slack_resolved_parent(item: Claimed) -> str:
    """What an alert's Slack message says once it resolved (app mode updates it)."""
    head = f"{RESOLVED_EMOJI} [{item.severity}] RESOLVED: {item.title}"
    return slack_within(f"{head} (resolved {when(item.ends_at)})", 3000)


def slack_action_text(item: Claimed, actions: list[Action]) -> str:
    """An alert's Slack message after someone acted on it from Slack (app mode)."""
    lines = [slack_within(f"{emoji(item)} [{item.severity}] {item.title}", 300)]
    lines += [strip_markup(line) for line in telegram_action_lines(actions)]
    return "\n".join(lines)


def _digest_kind(kind: str) -> str:
    return "" if kind == Kind.FIRING else f" {kind}"


DIGEST_HEAD = "+{folded} more (folded to stay under the message rate limit)"
DIGEST_FOOT = "Every one of them is in the alert history."


def _plain(text: str) -> str:
    return text


def digest_lines(
    digest: Digest, escape: Callable[[str], str] = _plain, budget: int = TELEGRAM_LIMIT - 200
) -> list[str]:
    """One line per alert name, severity and kind ("3× LatencyHigh P2 resolved"). Past
    ``budget`` characters the rest are counted on one line, so the counts still add up."""
    lines: list[str] = []
    used = 0
    for shown, entry in enumerate(digest.summary):
        line = (
            f"{entry['count']}× {escape_within(entry['alertname'], 100, escape)} "
            f"{escape(entry['severity'])}{_digest_kind(entry['kind'])}"
        )
        if used + len(line) + 1 > budget:
            lines.append(f"{sum(e['count'] for e in digest.summary[shown:])}× other alerts")
            break
        lines.append(line)
        used += len(line) + 1
    return lines


def digest_plain(digest: Digest, links: Sequence[Link] = ()) -> str:
    """The digest without markup (email, the log); a "label: URL" line per link."""
    head = DIGEST_HEAD.format(folded=digest.folded)
    rows = [f"{link.label}: {link.url}" for link in links]
    return "\n".join([f"📦 {head}:", *digest_lines(digest), DIGEST_FOOT, *rows])


def telegram_digest_text(digest: Digest, links: Sequence[Link] = ()) -> str:
    """One message for the notifications folded during a storm; the counts add up. Its link
    opens the history page over the folded alerts."""
    head = telegram_escape(DIGEST_HEAD.format(folded=digest.folded)).replace("+", "<b>+", 1)
    head = head.replace(" more", " more</b>", 1)
    lines = digest_lines(digest, telegram_escape)
    row = telegram_links(links)
    return "\n".join([f"📦 {head}:", *lines, f"<i>{DIGEST_FOOT}</i>", *([row] if row else [])])


def slack_digest_body(digest: Digest, links: Sequence[Link] = ()) -> dict[str, object]:
    text = f"📦 {DIGEST_HEAD.format(folded=digest.folded)}"
    lines = digest_lines(digest, slack_escape, SLACK_SECTION_LIMIT)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": DIGEST_FOOT}]}
    head = {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}}
    colour = severity("none").colour
    blocks = [head, section, context, *slack_link_blocks(links)]
    return {"text": text, "attachments": [{"color": colour, "blocks": blocks}]}


def email_subject(item: Claimed) -> str:
    return f"[{item.severity}] {headline_prefix(item)}{item.title} ({item.alertname})"[:200]


# Every tag Telegram's HTML knows (an operator's template may use any), and a link in either
# quotes: plain text keeps the link as "label: URL".
_TAG = re.compile(
    r"</?(?:b|strong|i|em|u|ins|s|strike|del|code|pre|span|tg-spoiler|blockquote)"
    r"(?:\s[^>]*)?>"
)
_ANCHOR = re.compile(r"""<a\s+href=(?:"([^"]*)"|'([^']*)')\s*>([^<]*)</a>""")


def strip_markup(text: str) -> str:
    """Telegram HTML as plain text: its tags removed, a link as "label: URL", entities
    decoded."""

    def link(match: re.Match[str]) -> str:
        return f"{match.group(3)}: {match.group(1) or match.group(2) or ''}"

    return html.unescape(_ANCHOR.sub(link, _TAG.sub("", text)))


MUTE_LABEL = "🔇 Mute until resolved"


def telegram_buttons(
    alert_id: int, *, acknowledged: bool, muted: bool = False
) -> tuple[tuple[str, str], ...]:
    """Inline buttons under a firing message: callback data names the action and the alert.
    Ack and Silence 1h on the first row, Mute until resolved on the second."""
    ack = () if acknowledged else (("✅ Ack", f"ack:{alert_id}"),)
    mute = () if muted else ((MUTE_LABEL, f"mute:{alert_id}"),)
    return (*ack, ("🔕 Silence 1h", f"silence:{alert_id}"), *mute)


def telegram_action_lines(actions: list[Action]) -> list[str]:
    """What was done about the alert, appended to its message when someone presses a button."""
    lines = []
    for action in actions:
        when = action.at.strftime("%H:%M UTC")
        who = escape_within(action.actor.removeprefix("telegram:"), 100)
        if action.action == "ack":
            lines.append(f"✅ Acknowledged by {who} at {when}")
        elif action.action == "silence":
            until = str(action.detail.get("endsAt", ""))[11:16]
            lines.append(f"🔕 Silenced by {who} at {when} until {until} UTC")
        elif action.action == "mute":
            lines.append(f"🔇 Muted until resolved by {who} at {when}")
        elif action.action == "unsilence":
            lines.append(f"🔔 Silence lifted by {who} at {when}")
        elif action.action == "escalate":
            lines.append(f"{ESCALATION_EMOJI} Escalated at {when}: not acknowledged in time")
        elif action.action == "ack-expired":
            lines.append(f"⏰ Acknowledgement expired at {when}: reminders resume")
    return lines
