"""The webhook's one transaction: store every alert, queue its notifications, then commit.

Each arrival is decided by ``lifecycle.arrival`` against the occurrence's newest episode,
read under a row lock, so concurrent webhooks (retries, a second Alertmanager) serialise on
the occurrence and the outcome is the same in any order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg2.extensions

from d76maintenance import Maintenance
from receiver.model import AlertStatus, EscalationRule, Kind, Occurrence, priority_of
from receiver.store import escalation, graphs, ingest_plan, maintenance, mutes
from receiver.store import ingest_sql as sql
from receiver.store.db import Connection, notify
from receiver.store.maintenance import MAINTENANCE_RECEIVER, Windows
from receiver.webhook_parser import Alert, Notification

WATCHDOG = "Watchdog"  # the always-firing alert whose arrivals prove the pipeline works


@dataclass(frozen=True, slots=True)
class IngestResult:
    alerts: int  # alerts in the payload
    new: int  # occurrences seen for the first time
    resolved: int  # occurrences that became resolved
    queued: int  # notifications queued for delivery
    refired: int = 0  # resolved occurrences that fired again (a new episode)
    # Kept in the webhook's answer for its readers: always 0 since reminders moved from
    # Alertmanager's repeats to the escalation timers (store/escalation.py).
    reminders: int = 0
    escalations: int = 0  # escalation timers started (new firing episodes with a policy)


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """What the webhook needs of the delivery settings."""

    retry_for_seconds: float = 24 * 3600  # a notification is given up this long after queueing
    # By severity: reminders, escalation, ack expiry (the timer starts with the episode).
    escalation: Mapping[str, EscalationRule] = field(default_factory=dict)
    maintenance: Maintenance | None = None  # config/maintenance.yml: marks alerts inside
    # routing.table: (receiver's targets, the alert's labels) -> the alert's targets
    route: ingest_plan.Route | None = None
    graphs: graphs.Wanted = field(
        default_factory=graphs.Wanted
    )  # which paged alerts get a graph snapshot


def _current(
    cur: psycopg2.extensions.cursor, alerts: Sequence[Alert]
) -> dict[tuple[str, datetime], Occurrence]:
    """The newest episode of each occurrence, locked."""
    sql.current(cur, alerts, MAINTENANCE_RECEIVER)
    newest: dict[tuple[str, datetime], Occurrence] = {}
    for rid, fp, starts, episode, severity, status, acked, ends, quiet in cur.fetchall():
        before = newest.get((fp, starts))
        newest[(fp, starts)] = Occurrence(
            rid, fp, starts, episode, severity, status, acked, ends,
            before.ends_at if before else None, quiet,
        )  # fmt: skip
    return newest


@dataclass
class _Tally:
    new: int = 0
    resolved: int = 0
    refired: int = 0
    escalations: int = 0
    queued: int = 0


def _apply(
    cur: psycopg2.extensions.cursor,
    notification: Notification,
    plan: ingest_plan.Plan,
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
    paged: list[tuple[int, datetime]] = []  # firing alerts someone is told of: their graphs
    timers: list[tuple[int, datetime, EscalationRule]] = []
    if plan.inserts:
        rows = sql.insert_history(cur, notification, list(plan.inserts.values()))
        for alert_id, fingerprint, starts_at, status, severity in rows:
            key = (fingerprint, starts_at)
            inserted.add(key)
            to = plan.routed.get(key, targets)
            tell(alert_id, key, status, severity, to)
            rule = policy.escalation.get(severity)
            # Only what someone was told escalates (not the Watchdog, nor a maintenance window).
            if status == AlertStatus.FIRING and to:
                paged.append((alert_id, starts_at))
                if rule is not None:
                    timers.append((alert_id, starts_at, ingest_plan.routed(rule, to)))
            if key in plan.refires:
                tally.refired += 1
            else:
                tally.new += 1
            tally.resolved += int(status == AlertStatus.RESOLVED)
    if plan.resolves:
        keys = {o.id: (o.fingerprint, o.starts_at) for o in current.values()}
        resolved = sql.resolve_history(cur, plan.resolves)
        resolved_ids = [alert_id for alert_id, _ in resolved]
        escalation.stop(cur, resolved_ids)
        mutes.resolved(cur, resolved_ids)
        for alert_id, severity in resolved:
            key = keys[alert_id]
            tell(alert_id, key, Kind.RESOLVED, severity, plan.routed.get(key, targets))
        tally.resolved += len(resolved)
    if plan.wakes:  # a maintenance window ended with these still firing: page them now
        times = sorted({o.starts_at for o in plan.wakes})
        cur.execute(sql.WAKE, (notification.receiver, [o.id for o in plan.wakes], times))
        for o in plan.wakes:
            key = (o.fingerprint, o.starts_at)
            to = plan.routed.get(key, targets)
            tell(o.id, key, Kind.FIRING, o.severity, to)
            if to:
                paged.append((o.id, o.starts_at))
            rule = policy.escalation.get(o.severity)
            if rule is not None and not o.acknowledged and to:
                timers.append((o.id, o.starts_at, ingest_plan.routed(rule, to)))
    tally.escalations += escalation.start(cur, timers)
    graphs.enqueue(cur, policy.graphs, paged)
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
    nothing and queues nothing.
    """
    policy = policy or IngestPolicy()
    alerts = ingest_plan.unique_occurrences(notification.alerts)
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
            current = _current(cur, pending)
            windows = Windows(policy.maintenance, maintenance.windows_for(cur, pending))
            plan = ingest_plan.plan(pending, notification, current, windows, targets, policy.route)
            conflicted = _apply(cur, notification, plan, current, targets, policy, tally)
            pending = [a for a in pending if (a.fingerprint, a.starts_at) in conflicted]
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
        escalations=tally.escalations,
    )
