"""Message text per channel, laid out like the seed's examples.

    🔴 [P0] GlobalGuard BLOCK
    Reason: Global Daily Loss Limit
    Daily Loss: $55,000 / $50,000 (limit)
    Action: Trading HALTED until next day

Every value that comes from labels or annotations is escaped for the channel's markup.
"""

from __future__ import annotations

import html
from datetime import datetime

from receiver.store import Claimed, Digest

SEVERITY_EMOJI = {"P0": "🔴", "P1": "🟠", "P2": "⚠️", "P3": "ℹ️"}
RESOLVED_EMOJI = "✅"
TELEGRAM_LIMIT = 4096  # characters per message, after entity parsing
# Labels shown as "Key: value" when the description does not already say them.
SCOPE_LABELS = ("exchange", "category", "route", "symbol", "tier")


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _escape_within(text: str, limit: int) -> str:
    """Escape ``text`` and cut it to ``limit`` characters without splitting an entity."""
    escaped = _escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(0, limit - 1)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def telegram_text(item: Claimed) -> str:
    """Telegram HTML for one alert notification (firing or resolved)."""
    severity = item.severity
    if item.kind == "resolved":
        title = _escape_within(item.title, 200)
        head = f"{RESOLVED_EMOJI} <b>[{_escape(severity)}] RESOLVED: {title}</b>"
    else:
        emoji = SEVERITY_EMOJI.get(severity, "🔔")
        head = f"{emoji} <b>[{_escape(severity)}] {_escape_within(item.title, 200)}</b>"
    lines = [head]
    description = item.annotations.get("description", "")
    for label in SCOPE_LABELS:
        value = item.labels.get(label)
        if value and f"{label.title()}:" not in description:
            lines.append(f"{label.title()}: {_escape_within(value, 200)}")
    tail = []
    action = item.annotations.get("action")
    if action and item.kind == "firing":
        tail.append(f"Action: {_escape_within(action, 500)}")
    if item.kind == "resolved":
        tail.append(f"Resolved: {_when(item.ends_at)}")
    tail.append(
        f"<i>{_escape_within(item.alertname, 200)} · {_escape_within(item.source, 60)}"
        f" · since {_when(item.starts_at)}</i>"
    )
    if description:
        used = sum(len(line) + 1 for line in lines + tail)
        lines.append(_escape_within(description, TELEGRAM_LIMIT - used - 1))
    return "\n".join(lines + tail)


def plain_text(item: Claimed) -> str:
    """The same message without markup, for the log when a channel is not configured."""
    return html.unescape(
        telegram_text(item)
        .replace("<b>", "")
        .replace("</b>", "")
        .replace("<i>", "")
        .replace("</i>", "")
    )


def telegram_digest_text(digest: Digest) -> str:
    """One message for the notifications folded during a storm; the counts add up."""
    lines = [
        f"📦 <b>+{digest.folded} more</b> (folded to stay under the message rate limit):",
    ]
    for shown, entry in enumerate(digest.summary):
        kind = " resolved" if entry["kind"] == "resolved" else ""
        line = (
            f"{entry['count']}× {_escape_within(entry['alertname'], 100)} "
            f"{_escape(entry['severity'])}{kind}"
        )
        if sum(len(x) + 1 for x in lines) + len(line) > TELEGRAM_LIMIT - 200:
            rest = sum(e["count"] for e in digest.summary[shown:])
            lines.append(f"{rest}× other alerts")
            break
        lines.append(line)
    lines.append("<i>Every one of them is in the alert history.</i>")
    return "\n".join(lines)
