"""An alert's lifecycle as one chronological list, for the history page's alert view.

Built from what ``store.alert_page.lifecycle`` read, without I/O: when the alert fired and when
the receiver stored it, each message per target (queued, every attempt's outcome with its error
as stored, and the end the attempts do not tell: folded into a digest, told by it, superseded
or cancelled), what people and the escalation timer did (ack, silence, mute, unsilence,
unmute, escalate, ack-expired), the graph snapshot, and the resolve. Every time is UTC.

A few moments are not recorded as such: when a message was folded into a digest (shown at the
time it was due: it was folded when a dispatcher took it, at that time or just after), and when
one queued message was superseded or cancelled by the resolve (shown at the resolve). Those
entries are marked ``exact=False`` and the page shows their time with "≈".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from receiver.model import Kind

# Ties (the same instant) keep this order: what happened first in the lifecycle first.
_RANK = {
    "fired": 0, "maintenance": 1, "received": 2, "resolved": 3, "action": 4, "queued": 5,
    "attempt": 6, "state": 7, "graph": 8,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime  # UTC
    event: str  # what happened, e.g. "firing → telegram: retry"
    detail: str = ""  # the error as stored, who, where to
    kind: str = "state"  # fired, received, queued, attempt, state, action, graph, resolved
    outcome: str = ""  # an attempt's or a state's name (sent, retry, failed, ...): its colour
    exact: bool = True  # False: the moment was not recorded; ``at`` is the best known time
    order: tuple[int, int] = field(default=(0, 0), compare=False)


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _time_text(value: Any) -> str:
    """An ISO time from an action's detail as the page writes times; else the text as is."""
    try:
        return when(datetime.fromisoformat(str(value)).replace(microsecond=0)) + " UTC"
    except ValueError:
        return str(value)


def _names(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def action_detail(action: str, actor: str, detail: Mapping[str, Any] | None) -> str:
    """Who did it and what it says, in words."""
    detail = dict(detail or {})
    parts = [f"by {actor}"]
    if action == "ack":
        if detail.get("comment"):
            parts.append(f"“{detail['comment']}”")
    elif action in ("silence", "mute"):
        if action == "mute":
            parts.append("until resolved")
        elif detail.get("endsAt"):
            parts.append(f"until {_time_text(detail['endsAt'])}")
        if detail.get("silenceID"):
            parts.append(f"(silence {detail['silenceID']})")
    elif action in ("unsilence", "unmute"):
        ids = detail.get("silenceIDs") or detail.get("silenceID")
        why = detail.get("why")
        if why:
            parts.append("(it resolved)" if why == "resolved" else f"({why})")
        if ids:
            parts[-1] += ":"
            parts.append(f"silence {_names(ids)} expired")
    elif action == "escalate":
        if detail.get("to"):
            parts.append(f"to {_names(detail['to'])}")
        if detail.get("mentions"):
            parts.append(f"calling {_names(detail['mentions'])}")
    elif action == "ack-expired":
        if detail.get("acknowledged_by"):
            parts.append(f"(acknowledged by {detail['acknowledged_by']}")
            if detail.get("acknowledged_at"):
                parts[-1] += f" at {_time_text(detail['acknowledged_at'])}"
            parts[-1] += ")"
    elif detail:
        parts.append(json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str))
    return " ".join(parts)


def _queued_detail(kind: str) -> str:
    if kind == Kind.REMINDER:
        return "escalation step: reminder"
    if kind == Kind.ESCALATION:
        return "escalation step: escalated"
    if kind == Kind.GRAPH:
        return "the graph snapshot, as a reply"
    return ""


def _attempt_detail(attempt: Mapping[str, Any]) -> str:
    parts = []
    if attempt.get("error"):
        parts.append(str(attempt["error"]))
    elif attempt.get("message_id"):
        parts.append(f"message {attempt['message_id']}")
    if attempt.get("duration_ms"):
        parts.append(f"({attempt['duration_ms']} ms)")
    return " ".join(parts)


def _notification_entries(n: Mapping[str, Any], ends_at: datetime | None) -> Iterable[Entry]:
    what = f"{n['kind']} → {n['target']}"
    yield Entry(n["created_at"], f"{what}: queued", _queued_detail(n["kind"]), "queued")
    log = list(n.get("attempt_log") or [])
    for attempt in log:
        outcome = str(attempt["outcome"])
        yield Entry(
            attempt["at"], f"{what}: {outcome}", _attempt_detail(attempt), "attempt", outcome
        )
    state = str(n["state"])
    if state in ("folded", "digested"):
        due = max(t for t in (n["created_at"], n["next_attempt_at"], n["digest_created_at"]) if t)
        digest = f"digest #{n['digest_id']}" if n.get("digest_id") else "a digest"
        yield Entry(due, f"{what}: folded", f"into {digest}", "state", "folded", exact=False)
        if state == "digested" and n.get("sent_at"):
            told = f"told by {digest}"
            if n.get("digest_message_id"):
                told += f" (message {n['digest_message_id']})"
            yield Entry(n["sent_at"], f"{what}: digested", told, "state", "digested")
    elif state not in ("queued", "sending") and not any(str(a["outcome"]) == state for a in log):
        # An end no attempt tells: superseded or cancelled by the resolve, or a row older
        # than the attempt log.
        at, exact = n["created_at"], False
        if state == "sent" and n.get("sent_at"):
            at, exact = n["sent_at"], True
        elif state in ("superseded", "cancelled") and ends_at and ends_at >= at:
            at = ends_at
        yield Entry(at, f"{what}: {state}", str(n.get("last_error") or ""), "state", state, exact)


def build(alert: Mapping[str, Any]) -> list[Entry]:
    """Every entry of ``alert``'s lifecycle (``store.alert_page.lifecycle``), oldest first."""
    found: list[Entry] = [Entry(alert["starts_at"], "fired", "startsAt", "fired")]
    notes = [f"receiver {alert['receiver']}"] if alert.get("receiver") else []
    if (alert.get("episode") or 1) > 1:
        notes.append(f"episode {alert['episode']}: it fired again after resolving")
    stored = f"stored ({'; '.join(notes)})" if notes else "stored"
    if alert.get("received_at"):
        found.append(Entry(alert["received_at"], "received", stored, "received"))
    inside = (alert.get("metadata") or {}).get("maintenance")
    if inside:
        found.append(
            Entry(alert["starts_at"], "inside maintenance window", str(inside), "maintenance")
        )
    for n in alert.get("notifications") or []:
        found.extend(_notification_entries(n, alert.get("ends_at")))
    for action in alert.get("actions") or []:
        name = str(action["action"])
        detail = action_detail(name, str(action["actor"]), action.get("detail"))
        found.append(Entry(action["at"], name, detail, "action", name))
    graph = alert.get("graph")
    if graph is not None and graph.finished_at is not None:
        if graph.state == "done":
            took = f"in {graph.render_ms} ms" if graph.render_ms is not None else ""
            found.append(Entry(graph.finished_at, "graph drawn", took, "graph", "done"))
        elif graph.state == "skipped":
            note = str(graph.note or "")
            found.append(Entry(graph.finished_at, "graph skipped", note, "graph", "skipped"))
    if alert.get("ends_at"):
        found.append(Entry(alert["ends_at"], "resolved", "endsAt", "resolved"))
    ordered = [
        Entry(e.at, e.event, e.detail, e.kind, e.outcome, e.exact, (_RANK.get(e.kind, 9), i))
        for i, e in enumerate(found)
    ]
    return sorted(ordered, key=lambda e: (e.at, e.order))
