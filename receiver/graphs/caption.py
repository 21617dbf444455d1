"""The words under a graph snapshot's photo: which alert it is, as its page names it, within
a caption's 1024 characters (each part escaped and cut by the messages' own helpers, never
inside an entity)."""

from __future__ import annotations

from receiver.messages import escape_within, slack_within
from receiver.model import Claimed

CAPTION_LIMIT = 1024
PART_LIMIT = 400  # the title and the alert name each: with the words, under CAPTION_LIMIT
TAIL = "its condition before and since it fired"


def caption(item: Claimed) -> str:
    """Telegram HTML."""
    title = escape_within(item.title, PART_LIMIT)
    name = escape_within(item.alertname, PART_LIMIT)
    severity = escape_within(item.severity, 20)
    return f"📈 <b>[{severity}] {title}</b>\n<i>{name}: {TAIL}</i>"


def slack_caption(item: Claimed) -> str:
    """Slack mrkdwn, its three control characters escaped."""
    title = slack_within(item.title, PART_LIMIT)
    name = slack_within(item.alertname, PART_LIMIT)
    severity = slack_within(item.severity, 20)
    return f"📈 *[{severity}] {title}*\n_{name}: {TAIL}_"
