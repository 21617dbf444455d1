"""The words under a graph snapshot's photo (Telegram HTML, within a caption's 1024
characters): which alert it is, as its page names it."""

from __future__ import annotations

import html

from receiver.model import Claimed

CAPTION_LIMIT = 1024


def slack_caption(item: Claimed) -> str:
    """The same words in Slack mrkdwn, its three control characters escaped."""

    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    return (
        f"📈 *[{escape(item.severity)}] {escape(item.title[:200])}*\n"
        f"_{escape(item.alertname[:200])}: its condition before and since it fired_"
    )[:CAPTION_LIMIT]


def caption(item: Claimed) -> str:
    title = html.escape(item.title[:200], quote=False)
    name = html.escape(item.alertname[:200], quote=False)
    return (
        f"📈 <b>[{html.escape(item.severity, quote=False)}] {title}</b>\n"
        f"<i>{name}: its condition before and since it fired</i>"
    )[:CAPTION_LIMIT]
