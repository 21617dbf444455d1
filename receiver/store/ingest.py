"""The webhook's one transaction: store every alert, queue its notifications, then commit.

Each arrival is decided by ``lifecycle.arrival`` against the occurrence's newest episode,
read under a row lock, so concurrent webhooks (retries, a second Alertmanager) serialise on
the occurrence and the outcome is the same in any order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg2.extras

from d76maintenance import Maintenance
from receiver.model import AlertStatus, EscalationRule, Kind, Occurrence, priority_of
from receiver.store import escalation, ingest_plan, maintenance, mutes
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
    route: Callable[[Sequence[str], Mapping[str, str]], list[str]] | None = None


_CURRENT = """
SELECT a.id, a.fingerprint, a.starts_at, a.episode, a.severity, a.status, a.acknowledged, a.ends_at,
       a.receiver = %s
  FROM alert_history a
  JOIN unnest(%s::text[], %s::timestamptz[]) AS k(fingerprint, starts_at)
    ON a.fingerprint = k.fingerprint AND a.starts_at = k.starts_at
 ORDER BY a.fingerprint, a.starts_at, a.episode
   FOR UPDATE OF a
"""

_INSERT = """
INSERT INTO alert_history (timestamp, severity, source, title, message, metadata, fingerprint,
                           alertname, status, starts_at, ends_at, labels, annotations,
                           generator_url, receiver, episode)
VALUES %s
ON CONFLICT ON CONSTRAINT alert_history_occurrence DO NOTHING
RETURNING id, fingerprint, starts_at, status, severity
"""

_RESOLVE = """
UPDATE alert_history a
   SET status = 'resolved', ends_at = v.ends_at, annotations = v.annotations,
       title = v.title, message = v.message, updated_at = d76_now()
  FROM (VALUES %s) AS v(id, ends_at, annotations, title, message)
 WHERE a.id = v.id AND a.status = 'firing'
RETURNING a.id, a.severity
"""

# A firing (or reminder, or escalation) that has not gone out when its alert resolves never
# will: the resolved message says "fired at X, resolved at Y". One already in a digest being
# sent, or being sent itself, stays: the resolved waits for it (messages of one alert go in
# order).
_SUPERSEDE = """
UPDATE notification n
   SET state = CASE WHEN n.kind = 'firing' THEN 'superseded' ELSE 'cancelled' END,
       last_error = 'resolved before delivery', digest_id = NULL, lease_until = NULL
 WHERE n.alert_id = ANY(%s) AND n.kind IN ('firing', 'reminder', 'escalation')
   AND (n.state = 'queued'
        OR (n.state = 'folded'
            AND EXISTS (SELECT 1 FROM digest d WHERE d.id = n.digest_id AND d.state = 'pending')))
"""

_QUEUE = """
INSERT INTO notification (alert_id, kind, target, priority, fingerprint, give_up_at) VALUES %s
ON CONFLICT (alert_id, kind, target) WHERE kind <> 'reminder' DO NOTHING
RETURNING id
"""
_QUEUE_TEMPLATE = "(%s, %s, %s, %s, %s, d76_now() + make_interval(secs => %s))"


def _current(
    cur: psycopg2.extensions.cursor, alerts: Sequence[Alert]
) -> dict[tuple[str, datetime], Occurrence]:
    """The newest episode of each occurrence, locked."""
    fingerprints, starts_at = [a.fingerprint for a in alerts], [a.starts_at for a in alerts]
    cur.execute(_CURRENT, (MAINTENANCE_RECEIVER, fingerprints, starts_at))
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
    plan: ingest_plan.Plan,
    current: Mapping[tuple[str, datetime], Occurrence],
    targets: Sequence[str],
    policy: IngestPolicy,
    tally: _Tally,
    receiver: str,
) -> set[tuple[str, datetime]]:
    """Write what ``plan`` decided; return the keys whose insert met a concurrent insert."""
    queue: list[tuple[Any, ...]] = []

    def tell(alert_id: int, fingerprint: str, kind: str, severity: str, to: Iterable[str]) -> None:
        priority, retry_for = priority_of(severity), policy.retry_for_seconds
        queue.extend((alert_id, kind, target, priority, fingerprint, retry_for) for target in to)

    inserted: set[tuple[str, datetime]] = set()
    timers: list[tuple[int, EscalationRule]] = []
    if plan.inserts:
        rows = psycopg2.extras.execute_values(cur, _INSERT, list(plan.inserts.values()), fetch=True)
        for alert_id, fingerprint, starts_at, status, severity in rows:
            key = (fingerprint, starts_at)
            inserted.add(key)
            to = plan.routed.get(key, targets)
            tell(alert_id, fingerprint, status, severity, to)
            rule = policy.escalation.get(severity)
            # Only what someone was told escalates (not the Watchdog, nor a maintenance window).
            if rule is not None and status == AlertStatus.FIRING and to:
                timers.append((alert_id, ingest_plan.routed(rule, to)))
            if key in plan.refires:
                tally.refired += 1
            else:
                tally.new += 1
            tally.resolved += int(status == AlertStatus.RESOLVED)
    if plan.resolves:
        rows = psycopg2.extras.execute_values(
            cur,
            _RESOLVE,
            plan.resolves,
            template="(%s::bigint, %s::timestamptz, %s::jsonb, %s, %s)",
            fetch=True,
        )
        keys = {o.id: (o.fingerprint, o.starts_at) for o in current.values()}
        resolved_ids = [alert_id for alert_id, _ in rows]
        cur.execute(_SUPERSEDE, (resolved_ids,))
        escalation.stop(cur, resolved_ids)
        mutes.resolved(cur, resolved_ids)
        for alert_id, severity in rows:
            to = plan.routed.get(keys[alert_id], targets)
            tell(alert_id, keys[alert_id][0], Kind.RESOLVED, severity, to)
        tally.resolved += len(rows)
    if plan.wakes:  # a maintenance window ended with these still firing: page them now
        cur.execute(
            "UPDATE alert_history SET receiver = %s, updated_at = d76_now() WHERE id = ANY(%s)",
            (receiver, [o.id for o in plan.wakes]),
        )
        for o in plan.wakes:
            to = plan.routed.get((o.fingerprint, o.starts_at), targets)
            tell(o.id, o.fingerprint, Kind.FIRING, o.severity, to)
            rule = policy.escalation.get(o.severity)
            if rule is not None and not o.acknowledged and to:
                timers.append((o.id, ingest_plan.routed(rule, to)))
    tally.escalations += escalation.start(cur, timers)
    if queue:
        tally.queued += len(
            psycopg2.extras.execute_values(cur, _QUEUE, queue, template=_QUEUE_TEMPLATE, fetch=True)
        )
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
            cur.execute(
                """INSERT INTO heartbeat (name, last_seen, status) VALUES ('watchdog', now(), %s)
                   ON CONFLICT (name) DO UPDATE SET last_seen = now(), status = EXCLUDED.status""",
                ("firing" if any(a.status == "firing" for a in watchdog) else "resolved",),
            )
        pending = alerts
        for _ in range(3):  # a concurrent first insert of the same occurrence: decide again
            current = _current(cur, pending)
            windows = Windows(policy.maintenance, maintenance.windows_for(cur, pending))
            plan = ingest_plan.plan(pending, notification, current, windows, targets, policy.route)
            conflicted = _apply(cur, plan, current, targets, policy, tally, notification.receiver)
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
