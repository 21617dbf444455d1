"""Escalation timers: reminders, the escalation and the acknowledgement's expiry, in PostgreSQL.

One row per firing alert episode whose severity has a policy (``escalation``). The webhook
starts it (in its storing transaction) and stops it when the alert resolves; an
acknowledgement pauses it; a dispatcher's chore takes the due ones. A step is decided by
``lifecycle.escalation_due`` and applied in one transaction with the notifications it queues,
on timer and alert rows locked with ``FOR UPDATE SKIP LOCKED``: with several dispatchers each
step happens once, and a resolve or an ack waits for a step in progress (or the step skips the
row). Every timer write names the step it read, so a decision on an older step changes nothing.
The step sends nothing itself: its notifications go through the outbox (lease, fencing,
budget, retries) like any other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2.extensions
import psycopg2.extras

from receiver import lifecycle
from receiver.model import (
    AlertStatus,
    EscalationRule,
    EscalationState,
    EscalationTimer,
    Kind,
    priority_of,
)
from receiver.store.db import Connection, notify

ACTOR = "escalation"  # who the history names for a step the timer took

_START = """
INSERT INTO escalation (alert_id, alert_ts, remind_every, escalate_after, ack_expires_after,
                        remind_to, escalate_to, mentions, remind_at, escalate_at, next_at)
SELECT v.alert_id, v.alert_ts, v.remind_every, v.escalate_after, v.ack_expires_after,
       v.remind_to, v.escalate_to, v.mentions, t.remind_at, t.escalate_at,
       LEAST(t.remind_at, t.escalate_at)
  FROM (VALUES %s) AS v(alert_id, alert_ts, remind_every, escalate_after, ack_expires_after,
                        remind_to, escalate_to, mentions)
 CROSS JOIN LATERAL (
       SELECT d76_now() + make_interval(secs => v.remind_every) AS remind_at,
              d76_now() + make_interval(secs => v.escalate_after) AS escalate_at) t
ON CONFLICT (alert_id) DO NOTHING
"""
_START_TEMPLATE = (
    "(%s::bigint, %s::timestamptz, %s::float8, %s::float8, %s::float8, %s::text[], %s::text[],"
    " %s::text[])"
)

_COLUMNS = """e.alert_id, e.state, e.remind_every, e.escalate_after, e.ack_expires_after,
              e.remind_at, e.escalate_at, e.resume_at, e.escalated_at IS NOT NULL, e.step"""


def _timer(row: Sequence[Any]) -> EscalationTimer:
    alert_id, state, every, after, expires, remind_at, escalate_at, resume_at, escalated, step = (
        row[:10]
    )
    return EscalationTimer(
        alert_id, EscalationState(state), every, after, expires, remind_at, escalate_at,
        resume_at, escalated, step,
    )  # fmt: skip


def start(
    cur: psycopg2.extensions.cursor,
    started: Iterable[tuple[int, datetime, EscalationRule]],
) -> int:
    """Start the timer of each new firing episode (alert id, its timestamp, its rule)."""
    rows = [
        (
            alert_id,
            ts,
            r.remind_every,
            r.escalate_after,
            r.ack_expires_after,
            list(r.remind_to),
            list(r.escalate_to),
            list(r.mentions),
        )
        for alert_id, ts, r in started
        if r.active
    ]
    if rows:
        psycopg2.extras.execute_values(cur, _START, rows, template=_START_TEMPLATE)
    return len(rows)


def stop(cur: psycopg2.extensions.cursor, alert_ids: Sequence[int]) -> None:
    """The alerts resolved: their timers are done (the webhook's storing transaction)."""
    if alert_ids:
        cur.execute(
            """UPDATE escalation SET state = 'done', next_at = NULL, step = step + 1,
                      updated_at = d76_now()
                WHERE alert_id = ANY(%s) AND state <> 'done'""",
            (list(alert_ids),),
        )


def _write(
    cur: psycopg2.extensions.cursor, before: int, timer: EscalationTimer,
    step: lifecycle.EscalationStep | None = None,
) -> bool:  # fmt: skip
    """Write ``timer`` if the row is still at step ``before``; count what ``step`` did."""
    cur.execute(
        """UPDATE escalation
              SET state = %(state)s, remind_at = %(remind_at)s, escalate_at = %(escalate_at)s,
                  resume_at = %(resume_at)s, next_at = %(next_at)s, step = %(step)s,
                  escalated_at = CASE WHEN %(escalate)s THEN d76_now() ELSE escalated_at END,
                  reminders = reminders + %(remind)s::int,
                  ack_expiries = ack_expiries + %(expired)s::int, updated_at = d76_now()
            WHERE alert_id = %(id)s AND step = %(before)s""",
        {
            "state": str(timer.state), "remind_at": timer.remind_at,
            "escalate_at": timer.escalate_at, "resume_at": timer.resume_at,
            "next_at": lifecycle.next_due(timer), "step": timer.step, "id": timer.alert_id,
            "before": before, "escalate": bool(step and step.escalate),
            "remind": bool(step and step.remind), "expired": bool(step and step.ack_expired),
        },
    )  # fmt: skip
    return cur.rowcount == 1


def acknowledged(cur: psycopg2.extensions.cursor, alert_ids: Sequence[int]) -> None:
    """The alerts were acknowledged: pause their timers (in the acknowledging transaction)."""
    if not alert_ids:
        return
    cur.execute(
        f"""SELECT {_COLUMNS}, d76_now() FROM escalation e
             WHERE e.alert_id = ANY(%s) AND e.state = 'waiting' ORDER BY e.alert_id FOR UPDATE""",
        (list(alert_ids),),
    )
    for row in cur.fetchall():
        timer = _timer(row)
        paused = lifecycle.escalation_acknowledged(timer, row[10])
        if paused is not None:
            _write(cur, timer.step, paused)


def silenced(cur: psycopg2.extensions.cursor, alert_id: int, until: datetime | None) -> None:
    """An Alertmanager silence (until ``until``; None: muted until resolved) pauses the
    alert's timer; in the transaction that records the silence."""
    _apply_locked(cur, alert_id, lambda timer, _now: lifecycle.escalation_silenced(timer, until))


def unsilenced(cur: psycopg2.extensions.cursor, alert_id: int) -> None:
    """The silence was lifted: the timer is due at once (a reminder if still unacknowledged)."""
    _apply_locked(cur, alert_id, lifecycle.escalation_unsilenced)


def _apply_locked(
    cur: psycopg2.extensions.cursor,
    alert_id: int,
    decide: Callable[[EscalationTimer, datetime], EscalationTimer | None],
) -> None:
    cur.execute(
        f"SELECT {_COLUMNS}, d76_now() FROM escalation e WHERE e.alert_id = %s FOR UPDATE",
        (alert_id,),
    )
    row = cur.fetchone()
    if row is not None:
        timer = _timer(row)
        changed = decide(timer, row[10])
        if changed is not None:
            _write(cur, timer.step, changed)


# -- the chore: due timers -------------------------------------------------------------------

_DUE = f"""
SELECT {_COLUMNS}, a.status, a.acknowledged, a.acknowledged_by, a.acknowledged_at, a.severity,
       a.fingerprint, e.remind_to, e.escalate_to, e.mentions, d76_now(), e.alert_ts
  FROM escalation e JOIN alert_history a ON a.id = e.alert_id AND a.timestamp = e.alert_ts
 WHERE e.state <> 'done' AND e.next_at <= d76_now()
 ORDER BY e.next_at
 LIMIT %s
   FOR UPDATE OF e, a SKIP LOCKED
"""

_QUEUE = """
INSERT INTO notification (alert_id, alert_ts, kind, target, priority, fingerprint, give_up_at)
SELECT %(alert)s, %(ts)s, %(kind)s, t.target, %(priority)s, %(fingerprint)s,
       d76_now() + make_interval(secs => %(retry)s)
  FROM unnest(%(targets)s::text[]) AS t(target)
 WHERE %(kind)s <> 'reminder' OR NOT EXISTS (
       SELECT 1 FROM notification n
        WHERE n.alert_id = %(alert)s AND n.alert_ts = %(ts)s AND n.target = t.target
          AND n.kind IN ('firing', 'reminder') AND n.state IN ('queued', 'sending', 'folded'))
ON CONFLICT (alert_id, kind, target, alert_ts) WHERE kind <> 'reminder' DO NOTHING
RETURNING id
"""


@dataclass
class Advanced:
    """What one pass over the due timers did."""

    timers: int = 0  # due timers handled
    reminders: int = 0  # reminder notifications queued
    escalations: int = 0  # escalation notifications queued
    ack_expiries: int = 0  # acknowledgements that ran out

    @property
    def queued(self) -> int:
        return self.reminders + self.escalations


def _queue(
    cur: psycopg2.extensions.cursor, alert: tuple[int, datetime], kind: str, severity: str,
    fingerprint: str, targets: Sequence[str], retry_for_seconds: float,
) -> int:  # fmt: skip
    if not targets:
        return 0
    cur.execute(
        _QUEUE,
        {
            "alert": alert[0], "ts": alert[1], "kind": kind, "priority": priority_of(severity),
            "fingerprint": fingerprint, "targets": list(targets), "retry": retry_for_seconds,
        },
    )  # fmt: skip
    return len(cur.fetchall())


def _action(
    cur: psycopg2.extensions.cursor, alert: tuple[int, datetime], action: str, detail: Any
) -> None:
    cur.execute(
        "INSERT INTO alert_action (alert_id, alert_ts, action, actor, detail) "
        "VALUES (%s, %s, %s, %s, %s)",
        (*alert, action, ACTOR, json.dumps(detail, default=str)),
    )


def advance_due(conn: Connection, *, retry_for_seconds: float, limit: int = 100) -> Advanced:
    """Take at most ``limit`` due timers, most overdue first, and apply each one's step with
    the notifications it queues, in one transaction; NOTIFY the dispatchers if any."""
    done = Advanced()
    with conn, conn.cursor() as cur:
        cur.execute(_DUE, (limit,))
        for row in cur.fetchall():
            timer = _timer(row)
            status, acked, acked_by, acked_at, severity, fingerprint = row[10:16]
            remind_to, escalate_to, mentions, now, alert_ts = row[16:21]
            step = lifecycle.escalation_due(
                timer, now, firing=status == AlertStatus.FIRING, acknowledged=acked
            )
            if step is None or not _write(cur, timer.step, step.timer, step):
                continue
            done.timers += 1
            alert = (timer.alert_id, alert_ts)
            if step.ack_expired:
                cur.execute(
                    """UPDATE alert_history SET acknowledged = FALSE, acknowledged_at = NULL,
                              acknowledged_by = NULL, updated_at = d76_now()
                        WHERE id = %s AND timestamp = %s AND acknowledged""",
                    alert,
                )
                detail = {"acknowledged_by": acked_by, "acknowledged_at": acked_at}
                _action(cur, alert, "ack-expired", detail)
                done.ack_expiries += 1
            if step.remind:
                done.reminders += _queue(
                    cur, alert, Kind.REMINDER, severity, fingerprint, remind_to,
                    retry_for_seconds,
                )  # fmt: skip
            if step.escalate:
                done.escalations += _queue(
                    cur, alert, Kind.ESCALATION, severity, fingerprint, escalate_to,
                    retry_for_seconds,
                )  # fmt: skip
                _action(cur, alert, "escalate", {"to": escalate_to, "mentions": mentions})
        _count(cur, done)
    if done.queued:
        notify(conn)
    return done


def _count(cur: psycopg2.extensions.cursor, done: Advanced) -> None:
    counts = {"reminder": done.reminders, "escalation": done.escalations}
    counts["ack-expired"] = done.ack_expiries
    for step, count in counts.items():
        if count:
            cur.execute(
                "UPDATE escalation_total SET total = total + %s WHERE step = %s", (count, step)
            )


def seconds_until_due(conn: Connection) -> float | None:
    """Seconds until the next timer is due; None if none is waiting."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT EXTRACT(EPOCH FROM min(next_at) - d76_now()) FROM escalation "
            "WHERE state <> 'done'"
        )
        (seconds,) = cur.fetchone() or (None,)
    return None if seconds is None else max(0.0, float(seconds))
