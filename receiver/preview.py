"""What each channel would send for an alert (``python -m receiver preview``).

The alert is one of the history (by id, shown as its current kind: firing, or resolved) or
each alert of an Alertmanager webhook body (a payload file: nothing is stored or read from a
database). Every message is built as the dispatcher builds it (``receiver.channels.registry``
with the templates in use), with the links the settings give. Pure but for the history read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from receiver import amounts, links, model, store, webhook_parser
from receiver.channels.registry import kind_of, templates_in_use
from receiver.config import Settings
from receiver.model import Claimed, Kind, Link
from receiver.store.ingest_sql import history_row

CHANNELS = ("telegram", "slack", "email")
KINDS = (Kind.FIRING, Kind.RESOLVED, Kind.REMINDER, Kind.ESCALATION)


def as_kind(item: Claimed, kind: str | None, settings: Settings) -> Claimed:
    """``item`` as a notification of ``kind`` (None: firing while it fires, else resolved);
    an escalation names the people its severity's policy calls on."""
    chosen = kind or (Kind.RESOLVED if item.status == model.AlertStatus.RESOLVED else Kind.FIRING)
    changes: dict[str, Any] = {"kind": chosen}
    if chosen == Kind.RESOLVED and item.ends_at is None:
        changes["ends_at"] = datetime.now(UTC)
    if chosen == Kind.ESCALATION:
        rule = settings.escalation_rules().get(item.severity)
        changes["mentions"] = rule.mentions if rule else ()
    return replace(item, **changes)


def from_payload(document: Any) -> list[Claimed]:
    """Each alert of an Alertmanager webhook body, as the receiver would store it (amounts
    formatted, title and source from its annotations and labels); raises InvalidPayload."""
    notification = amounts.format_notification(webhook_parser.parse(document))
    found = []
    for alert in notification.alerts:
        row = history_row(alert, 1)
        fields = {k: row[k] for k in Claimed.__slots__ if k in row}
        found.append(
            Claimed(
                **fields,
                id=0,
                kind=Kind.FIRING,
                target="",
                priority=model.priority_of(row["severity"]),
                attempts=0,
                reply_to=None,
                alert_id=0,
            )
        )
    return found


def from_history(conn: store.Connection, alert_id: int) -> Claimed | None:
    return store.alert_view(conn, alert_id)


def links_for(item: Claimed, base: links.LinkBase) -> list[Link]:
    """The links its messages carry; an alert that is not stored has no History entry."""
    found = links.for_alert(item, base)
    return found if item.alert_id else [link for link in found if link.key != "history"]


def _header(channel: str, item: Claimed, names: Sequence[str], extra: str = "") -> str:
    which = f"alert {item.alert_id}" if item.alert_id else "not stored"
    return f"=== {channel} · {item.kind} · {item.alertname} ({which}) · {', '.join(names)}{extra}"


def show(channel: str, item: Claimed, shown_links: Sequence[Link]) -> str:
    """A header line, then exactly what ``channel`` would send for ``item``: Telegram's HTML
    text, Slack's JSON payload, an email's subject, text and HTML."""
    layouts = templates_in_use()
    outgoing = kind_of(channel).message(item, shown_links)
    if channel == "telegram":
        name = layouts.template_for("telegram", item)
        buttons = f" · buttons: {', '.join(label for label, _ in outgoing.buttons)}"
        return "\n".join(
            [_header(channel, item, [name], buttons if outgoing.buttons else ""), outgoing.text]
        )
    if channel == "slack":
        name = layouts.template_for("slack", item)
        body = json.dumps(outgoing.body, indent=2, ensure_ascii=False)
        return "\n".join([_header(channel, item, [name]), body])
    names = [layouts.template_for("email_text", item), layouts.template_for("email_html", item)]
    html = (outgoing.body or {}).get("html", "")
    return "\n".join(
        [
            _header(channel, item, names),
            f"Subject: {outgoing.subject}",
            "--- text",
            outgoing.text,
            "--- html",
            str(html),
        ]
    )
