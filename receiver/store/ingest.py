"""The webhook's one transaction: store every alert, queue its notifications, then commit.

Each arrival is decided by ``lifecycle.arrival`` against the occurrence's newest episode,
read under a row lock, so concurrent webhooks (retries, a second Alertmanager) serialise on
the occurrence and the outcome is the same in any order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg2.extensions

from receiver.lifecycle import Arrival, arrival
from receiver.model import AlertStatus, Kind, Occurrence, priority_of
from receiver.store import ingest_sql as sql
from receiver.store.db import Connection, notify
from receiver.webhook_parser import Alert, Notification

WATCHDOG = "Watchdog"  # the always-firing alert whose arrivals prove the pipeline works


@dataclass(frozen=True, slots=True)
class IngestResult:
    alerts: int  # alerts in the payload
    new: int  # occurrences seen for the first time
    resolved: int  # occurrences that became resolved
    queued: int  # notifications queued for delivery
    refired: int = 0  # resolved occurrences that fired again (a new episode)
    reminders: int = 0  # reminders queued for still-firing, unacknowledged occurrences


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """What the webhook needs of the delivery settings."""

    retry_for_seconds: float = 24 * 3600  # a notification is given up this long after queueing
    remind_after_seconds: Mapping[str, float] = field(default_factory=dict)  # by severity
    remind_targets: Sequence[str] = ()  # where reminders go (Telegram: a reply to the page)


def _unique_occurrences(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per (fingerprint, startsAt); a resolved copy wins over a firing one."""
    chosen: dict[tuple[str, datetime], Alert] = {}
    for alert in alerts:
        key = (alert.fingerprint, alert.starts_at)
        if key not in chosen or alert.status == AlertStatus.RESOLVED:
            chosen[key] = alert
    return list(chosen.values())


def _current(
    cur: psycopg2.extensions.cursor, alerts: Sequence[Alert]
) -> tuple[dict[tuple[str, datetime], Occurrence], datetime | None]:
    """The newest episode of each occurrence, locked; and the database's time (None when none
    exists yet: only a known occurrence's reminder needs it, so a new alert costs no query)."""
    sql.current(cur, alerts)
    rows = cur.fetchall()
    newest: dict[tuple[str, datetime], Occurrence] = {}
    now: datetime | None = None
    for row in rows:
        rid, fp, starts, episode, severity, status, acked, ends, told, undelivered, now = row
        before = newest.get((fp, starts))
        newest[(fp, starts)] = Occurrence(
            rid, fp, starts, episode, severity, status, acked, ends,
            before.ends_at if before else None, told, undelivered,
        )  # fmt: skip
    return newest, now


@dataclass
class _Plan:
    inserts: dict[tuple[str, datetime], dict[str, Any]] = field(default_factory=dict)
    refires: set[tuple[str, datetime]] = field(default_factory=set)
    resolves: list[dict[str, Any]] = field(default_factory=list)
    reminders: list[Occurrence] = field(default_factory=list)


def _plan(
    alerts: Sequence[Alert],
    current: Mapping[tuple[str, datetime], Occurrence],
    now: datetime | None,
    policy: IngestPolicy,
) -> _Plan:
    plan = _Plan()
    for alert in alerts:
        key = (alert.fingerprint, alert.starts_at)
        occurrence = current.get(key)
        severity = alert.labels.get("severity", "none")
        decision = arrival(
            occurrence, alert.status, alert.ends_at, now, policy.remind_after_seconds.get(severity)
        )
        if decision is Arrival.NEW:
            plan.inserts[key] = sql.history_row(alert, 1)
        elif decision is Arrival.REFIRE:
            assert occurrence is not None
            plan.inserts[key] = sql.history_row(alert, occurrence.episode + 1)
            plan.refires.add(key)
        elif decision is Arrival.RESOLVE:
            assert occurrence is not None
            plan.resolves.append(sql.resolve_row(occurrence.id, alert))
        elif decision is Arrival.REMIND:
            assert occurrence is not None
            plan.reminders.append(occurrence)
    return plan


@dataclass
class _Tally:
    new: int = 0
    resolved: int = 0
    refired: int = 0
    reminders: int = 0
    queued: int = 0


def _apply(
    cur: psycopg2.extensions.cursor,
    notification: Notification,
    plan: _Plan,
    current: Mapping[tuple[str, datetime], Occurrence],
    targets: Sequence[str],
    policy: IngestPolicy,
    tally: _Tally,
) -> set[tuple[str, datetime]]:
    """Write what ``plan`` decided, one statement per table (however many alerts); return the
    keys whose insert met a concurrent insert."""
    queue: list[sql.Queued] = []

    def tell(
        alert_id: int, key: tuple[str, datetime], kind: str, severity: str, to: Iterable[str]
    ) -> None:
        priority = priority_of(severity)
        fingerprint, starts_at = key
        queue.extend((alert_id, starts_at, kind, target, priority, fingerprint) for target in to)

    inserted: set[tuple[str, datetime]] = set()
    if plan.inserts:
        rows = sql.insert_history(cur, notification, list(plan.inserts.values()))
        for alert_id, fingerprint, starts_at, status, severity in rows:
            key = (fingerprint, starts_at)
            inserted.add(key)
            tell(alert_id, key, status, severity, targets)
            if key in plan.refires:
                tally.refired += 1
            else:
                tally.new += 1
            tally.resolved += int(status == AlertStatus.RESOLVED)
    if plan.resolves:
        keys = {o.id: (o.fingerprint, o.starts_at) for o in current.values()}
        resolved = sql.resolve_history(cur, plan.resolves)
        for alert_id, severity in resolved:
            tell(alert_id, keys[alert_id], Kind.RESOLVED, severity, targets)
        tally.resolved += len(resolved)
    remind_to = [t for t in policy.remind_targets if t in targets]
    for occurrence in plan.reminders if remind_to else ():
        key = (occurrence.fingerprint, occurrence.starts_at)
        tell(occurrence.id, key, Kind.REMINDER, occurrence.severity, remind_to)
        tally.reminders += 1
    if queue:
        tally.queued += sql.queue(cur, queue, policy.retry_for_seconds)
    return set(plan.inserts) - inserted


def ingest(
    conn: Connection,
    notification: Notification,
    targets: Sequence[str],
    policy: IngestPolicy | None = None,
) -> IngestResult:
    """Store every alert and queue its notifications in one transaction; commit before return.

    Idempotent: the same occurrence posted again (a retry, a second Alertmanager) changes
    nothing and queues nothing, apart from a due reminder.
    """
    policy = policy or IngestPolicy()
    alerts = _unique_occurrences(notification.alerts)
    if not alerts:
        return IngestResult(alerts=0, new=0, resolved=0, queued=0)
    watchdog = [a for a in alerts if a.alertname == WATCHDOG]
    tally = _Tally()
    with conn, conn.cursor() as cur:
        if watchdog:  # every arrival counts, repeats included: the dead man's switch
            firing = any(a.status == AlertStatus.FIRING for a in watchdog)
            cur.execute(sql.HEARTBEAT, ("firing" if firing else "resolved",))
        pending = alerts
        for _ in range(3):  # a concurrent first insert of the same occurrence: decide again
            # First sight (a storm's common case): stored and queued in one statement.
            stored, queued = sql.insert_new(
                cur, notification, pending, targets, policy.retry_for_seconds
            )
            first = {(fingerprint, starts_at) for _, fingerprint, starts_at, _ in stored}
            tally.new += len(stored)
            tally.resolved += sum(status == AlertStatus.RESOLVED for *_, status in stored)
            tally.queued += queued
            known = [a for a in pending if (a.fingerprint, a.starts_at) not in first]
            if not known:
                break
            # Known occurrences: each decided against its newest episode, under its row lock.
            current, now = _current(cur, known)
            plan = _plan(known, current, now, policy)
            conflicted = _apply(cur, notification, plan, current, targets, policy, tally)
            pending = [a for a in known if (a.fingerprint, a.starts_at) in conflicted]
            if not pending:
                break
        else:  # never silently: the webhook answers 5xx and Alertmanager sends it again
            raise RuntimeError(f"{len(pending)} alert(s) kept meeting concurrent inserts")
    if tally.queued:
        notify(conn)
    return IngestResult(
        alerts=len(alerts),
        new=tally.new,
        resolved=tally.resolved,
        queued=tally.queued,
        refired=tally.refired,
        reminders=tally.reminders,
    )
