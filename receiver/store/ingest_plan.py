"""What the webhook's transaction will do with a payload, decided before any write: one alert
per occurrence, each arrival judged by ``lifecycle.arrival`` against its newest episode, the
history row of a new one (marked when it fired inside a maintenance window), and each alert's
targets (the routing table). Pure: ``ingest`` applies the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from receiver.lifecycle import Arrival, arrival
from receiver.model import AlertStatus, EscalationRule, Occurrence
from receiver.store import ingest_sql as sql
from receiver.store.maintenance import MAINTENANCE_RECEIVER, Windows
from receiver.webhook_parser import Alert, Notification

Route = Callable[[Sequence[str], Mapping[str, str]], list[str]]


def routed(rule: EscalationRule, targets: Sequence[str]) -> EscalationRule:
    """Reminders go only where the alert went (a reply to its page: "telegram" means the
    chat the routing table chose for it); escalation goes further."""
    chat = next((t for t in targets if t.startswith("telegram_") and t != "telegram_escalation"),
                None)  # fmt: skip
    remind_to = [chat if t == "telegram" and chat and "telegram" not in targets else t
                 for t in rule.remind_to]  # fmt: skip
    return replace(rule, remind_to=tuple(t for t in remind_to if t in targets))


def unique_occurrences(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per (fingerprint, startsAt); a resolved copy wins over a firing one."""
    chosen: dict[tuple[str, datetime], Alert] = {}
    for alert in alerts:
        key = (alert.fingerprint, alert.starts_at)
        if key not in chosen or alert.status == AlertStatus.RESOLVED:
            chosen[key] = alert
    return list(chosen.values())


@dataclass
class Plan:
    inserts: dict[tuple[str, datetime], dict[str, Any]] = field(default_factory=dict)
    refires: set[tuple[str, datetime]] = field(default_factory=set)
    wakes: list[Occurrence] = field(default_factory=list)
    routed: dict[tuple[str, datetime], list[str]] = field(default_factory=dict)  # by alert
    resolves: list[dict[str, Any]] = field(default_factory=list)


def plan(
    alerts: Sequence[Alert],
    notification: Notification,
    current: Mapping[tuple[str, datetime], Occurrence],
    windows: Windows,
    targets: Sequence[str],
    route: Route | None,
) -> Plan:
    decided = Plan()
    quiet = notification.receiver == MAINTENANCE_RECEIVER
    for alert in alerts:
        key = (alert.fingerprint, alert.starts_at)
        if route is not None:
            decided.routed[key] = route(targets, alert.labels)
        occurrence = current.get(key)
        decision = arrival(occurrence, alert.status, alert.ends_at, quiet)
        inside = windows.inside(alert, quiet)
        if decision is Arrival.NEW:
            decided.inserts[key] = sql.history_row(alert, 1, inside)
        elif decision is Arrival.REFIRE:
            assert occurrence is not None
            decided.inserts[key] = sql.history_row(alert, occurrence.episode + 1, inside)
            decided.refires.add(key)
        elif decision is Arrival.WAKE:
            assert occurrence is not None
            decided.wakes.append(occurrence)
        elif decision is Arrival.RESOLVE:
            assert occurrence is not None
            decided.resolves.append(sql.resolve_row(occurrence.id, alert))
    return decided
