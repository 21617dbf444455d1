"""Silences made from the receiver, and "mute until resolved" (``mute`` table).

A silence (Silence 1h, Mute, a chat command) is recorded as an action and pauses the alert's
escalation timer. A mute is a silence the receiver ends itself: the webhook (or the mute
poll, for a resolve Alertmanager does not tell) marks it ``expiring`` in the resolving
transaction, and a dispatcher's chore expires the silence in Alertmanager, retried until it
is. Every write is guarded by the state it expects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2.extensions

from receiver.store import escalation
from receiver.store.db import Connection

# An action is kept in its alert's month (alert_ts, migration 0011); no alert, no action.
_ACTION = """INSERT INTO alert_action (alert_id, alert_ts, action, actor, detail)
             SELECT a.id, a.timestamp, %s, %s, %s FROM alert_history a WHERE a.id = %s"""
EXPIRE_RETRY_SECONDS = 30.0  # a failed expiry is tried again this much later...
EXPIRE_ATTEMPTS = 20  # ...this many times, then the mute is failed (the silence ends itself)


def record_silence(
    conn: Connection,
    alert_id: int,
    actor: str,
    silence_id: str,
    ends_at: datetime,
    *,
    mute: bool,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a silence created in Alertmanager for ``alert_id``: the action (``silence``, or
    ``mute`` for one that lasts until the resolve), the mute, the timer's pause."""
    action = "mute" if mute else "silence"
    body = {"silenceID": silence_id, "endsAt": ends_at.isoformat(), **(detail or {})}
    with conn, conn.cursor() as cur:
        cur.execute(_ACTION, (action, actor, json.dumps(body), alert_id))
        if mute:
            cur.execute(
                "INSERT INTO mute (alert_id, alert_ts, silence_id, created_by) "
                "SELECT a.id, a.timestamp, %s, %s FROM alert_history a WHERE a.id = %s",
                (silence_id, actor, alert_id),
            )
        escalation.silenced(cur, alert_id, None if mute else ends_at)


def record_unsilence(conn: Connection, alert_id: int, actor: str, silence_ids: list[str]) -> None:
    """The alert's silences were expired by hand: the action, the mutes ended, the timer due."""
    with conn, conn.cursor() as cur:
        cur.execute(
            _ACTION, ("unsilence", actor, json.dumps({"silenceIDs": silence_ids}), alert_id)
        )
        cur.execute(
            """UPDATE mute SET state = 'expired', finished_at = d76_now()
                WHERE alert_id = %s AND state IN ('active', 'expiring')""",
            (alert_id,),
        )
        escalation.unsilenced(cur, alert_id)


def resolved(cur: psycopg2.extensions.cursor, alert_ids: Sequence[int]) -> None:
    """The alerts resolved: their mutes' silences are to be expired (the resolving
    transaction)."""
    if alert_ids:
        cur.execute(
            """UPDATE mute SET state = 'expiring', next_attempt_at = d76_now()
                WHERE alert_id = ANY(%s) AND state = 'active'""",
            (list(alert_ids),),
        )


@dataclass(frozen=True, slots=True)
class Muted:
    """An active mute, with what the poll needs to tell and to record its alert's resolve."""

    id: int
    alert_id: int
    silence_id: str
    fingerprint: str
    starts_at: datetime
    missing_since: datetime | None
    receiver: str
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str


def active(conn: Connection, limit: int) -> list[Muted]:
    """The oldest ``limit`` active mutes whose alert is still firing."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT m.id, m.alert_id, m.silence_id, a.fingerprint, a.starts_at,
                      m.missing_since, a.receiver, a.labels, a.annotations, a.generator_url
                 FROM mute m JOIN alert_history a ON a.id = m.alert_id AND a.timestamp = m.alert_ts
                WHERE m.state = 'active' ORDER BY m.id LIMIT %s""",
            (limit,),
        )
        return [Muted(*row) for row in cur.fetchall()]


def seen(conn: Connection, present: Sequence[int], missing: Sequence[int]) -> None:
    """Alertmanager lists the ``present`` mutes' alerts (still firing) and not the
    ``missing`` ones (resolved, or Alertmanager restarted: the grace period tells)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE mute SET missing_since = NULL WHERE id = ANY(%s) AND missing_since IS NOT NULL",
            (list(present),),
        )
        cur.execute(
            """UPDATE mute SET missing_since = d76_now()
                WHERE id = ANY(%s) AND state = 'active' AND missing_since IS NULL""",
            (list(missing),),
        )


def missing_for(conn: Connection, mute_id: int) -> tuple[float, datetime | None]:
    """How long the mute's alert has been missing from Alertmanager, and since when."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COALESCE(EXTRACT(EPOCH FROM d76_now() - missing_since), 0), missing_since "
            "FROM mute WHERE id = %s",
            (mute_id,),
        )
        row = cur.fetchone()
    return (float(row[0]), row[1]) if row else (0.0, None)


def due_expiries(conn: Connection, limit: int) -> list[tuple[int, int, str]]:
    """Mutes whose silence is due to be expired: (mute id, alert id, silence id)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT id, alert_id, silence_id FROM mute
                WHERE state = 'expiring' AND next_attempt_at <= d76_now()
                ORDER BY next_attempt_at LIMIT %s""",
            (limit,),
        )
        return [(int(a), int(b), str(c)) for a, b, c in cur.fetchall()]


def expired(conn: Connection, mute_id: int, alert_id: int, silence_id: str) -> bool:
    """The silence is expired: the mute is done (False if another dispatcher did it)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE mute SET state = 'expired', finished_at = d76_now(), last_error = NULL
                WHERE id = %s AND state = 'expiring'""",
            (mute_id,),
        )
        if cur.rowcount != 1:
            return False
        detail = json.dumps({"silenceID": silence_id, "why": "resolved"})
        cur.execute(_ACTION, ("unmute", "receiver", detail, alert_id))
    return True


def expiry_failed(conn: Connection, mute_id: int, error: str) -> str:
    """A try to expire the silence failed: try again later, or give up; the new state."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE mute SET attempts = attempts + 1, last_error = %(error)s,
                      next_attempt_at = d76_now() + make_interval(secs => %(retry)s),
                      state = CASE WHEN attempts + 1 >= %(max)s THEN 'failed' ELSE state END,
                      finished_at = CASE WHEN attempts + 1 >= %(max)s THEN d76_now() END
                WHERE id = %(id)s AND state = 'expiring' RETURNING state""",
            {"error": error, "retry": EXPIRE_RETRY_SECONDS, "max": EXPIRE_ATTEMPTS, "id": mute_id},
        )
        row = cur.fetchone()
    return str(row[0]) if row else "expired"


def is_muted(conn: Connection, alert_id: int) -> bool:
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM mute WHERE alert_id = %s AND state = 'active')",
            (alert_id,),
        )
        row = cur.fetchone()
    return bool(row and row[0])
