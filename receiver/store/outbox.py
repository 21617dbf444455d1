"""The outbox: claiming notifications and recording what became of each.

Every write that ends a claim is fenced: it names the claim's token and expects the state
``sending``, so a dispatcher whose lease ran out (and whose item another dispatcher took)
changes nothing. Its late outcome is still written to the attempt log as ``late-…``: that
is how a duplicate send, when one happens, is counted.
"""

from __future__ import annotations

from typing import Any

import psycopg2.extras

from receiver.model import Claimed, State
from receiver.store.db import OUTBOX_CHANNEL, Connection

# A notification is due when it is queued and its time has come, or when the dispatcher that
# claimed it let its lease run out; never while its destination is paused; and only at the
# head of its line: messages about one alert series to one target go out in order, so a
# resolved never overtakes its firing (nor a re-fire the previous episode's resolved).
# The head of n's line: the oldest undelivered message of its alert series to its target. A
# scalar subquery on the line index, evaluated per candidate in priority order: a NOT EXISTS
# here becomes an anti-join that, with a storm's stale statistics, the planner runs as a
# scan of the whole line index per row (quadratic in the queue).
_HEAD = """n.id = (SELECT min(e.id) FROM notification e
                 WHERE e.fingerprint = n.fingerprint AND e.target = n.target
                   AND e.state IN ('queued', 'sending', 'folded'))"""

DUE = f"""
    ((n.state = 'queued' AND n.next_attempt_at <= d76_now())
     OR (n.state = 'sending' AND n.lease_until < d76_now()))
    AND NOT EXISTS (SELECT 1 FROM destination d
                     WHERE d.target = n.target AND d.paused_until > d76_now())
    AND {_HEAD}
"""

# A claim is two statements in one transaction: the most urgent due notification is found
# and locked, then taken with its partition key (alert_ts) given as a constant, so the second,
# the larger, is planned for one month only (planning, not running, is what a statement over
# every month's partitions costs: 3.5 ms against 0.8 ms unpartitioned, as one statement).
_FIND = f"""
SELECT n.id, n.alert_ts FROM notification n
 WHERE {DUE}
 ORDER BY n.priority, n.id
 LIMIT 1
   FOR UPDATE OF n SKIP LOCKED
"""

_TAKE = """
UPDATE notification n
   SET state = 'sending',
       lease_until = d76_now() + make_interval(secs => %(lease)s),
       lease_owner = %(owner)s,
       claim_token = nextval('claim_token_seq'),
       attempts = n.attempts + 1
  FROM alert_history a
 WHERE n.id = %(id)s AND n.alert_ts = %(ts)s AND a.id = n.alert_id AND a.timestamp = %(ts)s
RETURNING n.id, n.kind, n.target, n.priority, n.attempts,
          (SELECT COALESCE(f.message_id, CASE WHEN n.kind <> 'graph' THEN g.message_id END)
             FROM notification f LEFT JOIN digest g ON g.id = f.digest_id
            WHERE f.alert_id = n.alert_id AND f.alert_ts = %(ts)s AND f.target = n.target
              AND f.kind = 'firing' AND f.state IN ('sent', 'digested')) AS reply_to,
          EXISTS (SELECT 1 FROM notification f
                   WHERE f.alert_id = n.alert_id AND f.alert_ts = %(ts)s
                     AND f.target = n.target AND f.kind = 'firing'
                     AND f.state IN ('sent', 'digested')) AS firing_told,
          a.id AS alert_id, a.severity, a.source, a.alertname, a.title, a.message, a.status,
          a.starts_at, a.ends_at, a.labels, a.annotations, a.generator_url, a.acknowledged,
          n.claim_token, a.episode, n.created_at, n.give_up_at, d76_now() AS claimed_at,
          COALESCE((SELECT e.mentions FROM escalation e
                     WHERE e.alert_id = n.alert_id AND n.kind = 'escalation'), '{}') AS mentions,
          CASE WHEN n.kind = 'graph' THEN (SELECT g.png FROM alert_graph g
                                            WHERE g.alert_id = n.alert_id) END AS photo
"""


def claim(conn: Connection, *, owner: str, lease_seconds: float) -> Claimed | None:
    """Claim the most urgent due notification under a lease; None when nothing is due."""
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(_FIND)
        due = cur.fetchone()
        if due is None:
            return None
        cur.execute(
            _TAKE,
            {"lease": lease_seconds, "owner": owner, "id": due["id"], "ts": due["alert_ts"]},
        )
        row = cur.fetchone()
    if row is None:
        return None
    if row["photo"] is not None:  # psycopg2 reads bytea as a memoryview
        row["photo"] = bytes(row["photo"])
    return Claimed.from_row(row)


def renew(conn: Connection, item: Claimed, lease_seconds: float) -> bool:
    """Extend the lease of a claim still held; False if it was lost."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE notification SET lease_until = d76_now() + make_interval(secs => %s)
                WHERE id = %s AND alert_ts = %s AND state = 'sending' AND claim_token = %s""",
            (lease_seconds, item.id, item.starts_at, item.claim_token),
        )
        return cur.rowcount == 1


def _attempt(
    cur: psycopg2.extensions.cursor,
    item: Claimed,
    outcome: str,
    duration_ms: int,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    """Record an attempt, in its alert's month (alert_ts: the alert's timestamp, its startsAt)."""
    cur.execute(
        """INSERT INTO notification_attempt
                  (notification_id, alert_ts, outcome, duration_ms, message_id, error)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (item.id, item.starts_at, outcome, duration_ms, message_id, error),
    )


# alert_ts (the alert's start) names the notification's partition: planned for one month.
_FENCE = "id = %(id)s AND alert_ts = %(ts)s AND state = 'sending' AND claim_token = %(token)s"


def _finish(
    conn: Connection,
    item: Claimed,
    set_clause: str,
    params: dict[str, Any],
    outcome: str | None,
    duration_ms: int,
    *,
    message_id: str | None = None,
    error: str | None = None,
    also: str | None = None,
) -> bool:
    """Apply one fenced transition of ``item``; record the attempt (``late-…`` when the claim
    was lost). ``also`` runs in the same transaction, with the item's target as its one
    parameter. True if this dispatcher still owned the claim."""
    with conn, conn.cursor() as cur:
        if also is not None:
            cur.execute(also, (item.target,))
        cur.execute(
            f"UPDATE notification SET {set_clause}, lease_until = NULL WHERE {_FENCE}",
            {**params, "id": item.id, "ts": item.starts_at, "token": item.claim_token},
        )
        owned = cur.rowcount == 1
        if outcome is not None:
            recorded = outcome if owned else f"late-{outcome}"
            _attempt(cur, item, recorded, duration_ms, message_id, error)
    return owned


# A delivery proves the destination works: its backoff starts from the first step again.
DESTINATION_WORKS = (
    "UPDATE destination SET failures = 0, updated_at = d76_now() WHERE target = %s AND failures > 0"
)


def record_sent(conn: Connection, item: Claimed, message_id: str | None, duration_ms: int) -> bool:
    return _finish(
        conn,
        item,
        "state = 'sent', sent_at = d76_now(), message_id = %(mid)s, last_error = NULL",
        {"mid": message_id},
        "sent",
        duration_ms,
        message_id=message_id,
        also=DESTINATION_WORKS,
    )


def record_retry(
    conn: Connection, item: Claimed, error: str, delay_seconds: float, duration_ms: int, *,
    throttled: bool, outcome_unknown: bool = False,
) -> bool:  # fmt: skip
    """Back to the queue after a transient failure; the whole destination waits as long.
    The attempt is ``throttled`` (429), ``unknown`` (it may have been delivered: a retry may
    duplicate it, and the attempt log counts it) or ``retry``."""
    pause_destination(conn, item.target, delay_seconds, error, count_failure=not throttled)
    return _finish(
        conn,
        item,
        "state = 'queued', last_error = %(error)s, "
        "next_attempt_at = d76_now() + make_interval(secs => %(delay)s)",
        {"error": error, "delay": delay_seconds},
        "throttled" if throttled else "unknown" if outcome_unknown else "retry",
        duration_ms,
        error=error,
    )


def record_final(
    conn: Connection, item: Claimed, state: State, error: str, duration_ms: int = 0
) -> bool:
    """End a notification without delivery (failed, unsent, superseded, cancelled)."""
    if not state.final or state in (State.SENT, State.DIGESTED):
        raise ValueError(f"not a final undelivered state: {state}")
    return _finish(
        conn,
        item,
        "state = %(state)s, last_error = %(error)s, "
        "failed_at = CASE WHEN %(state)s = 'failed' THEN d76_now() END",
        {"state": str(state), "error": error},
        str(state),
        duration_ms,
        error=error,
    )


def postpone(conn: Connection, item: Claimed, seconds: float) -> bool:
    """Back to the queue without counting an attempt: the budget, not the channel, said no."""
    return _finish(
        conn,
        item,
        "state = 'queued', attempts = GREATEST(attempts - 1, 0), "
        "next_attempt_at = d76_now() + make_interval(secs => %(delay)s)",
        {"delay": seconds},
        None,
        0,
    )


def pause_destination(
    conn: Connection, target: str, seconds: float, error: str, *, count_failure: bool
) -> None:
    """Hold every message to ``target`` for ``seconds`` (never shortening a longer pause)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO destination (target, paused_until, failures, last_error)
               VALUES (%(t)s, d76_now() + make_interval(secs => %(s)s), %(f)s, %(e)s)
               ON CONFLICT (target) DO UPDATE
                  SET paused_until = GREATEST(destination.paused_until, EXCLUDED.paused_until),
                      failures = destination.failures + %(f)s,
                      last_error = EXCLUDED.last_error, updated_at = d76_now()""",
            {"t": target, "s": seconds, "f": int(count_failure), "e": error},
        )


def destination_failures(conn: Connection, target: str) -> int:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT failures FROM destination WHERE target = %s", (target,))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def seconds_until_due(conn: Connection) -> float | None:
    """Seconds until a notification or digest can next be claimed; None if none is waiting.

    Counts only what a claim could take: the head of each line, after its destination's
    pause. A resolved waiting behind its firing is not due; its firing is.
    """
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""
            SELECT EXTRACT(EPOCH FROM MIN(t) - d76_now()) FROM (
                SELECT CASE WHEN n.state = 'queued'
                            THEN GREATEST(n.next_attempt_at, d.paused_until)
                            ELSE n.lease_until END AS t
                  FROM notification n LEFT JOIN destination d ON d.target = n.target
                 WHERE n.state IN ('queued', 'sending') AND {_HEAD}
                UNION ALL
                SELECT CASE WHEN g.state = 'pending'
                            THEN GREATEST(g.next_attempt_at, d.paused_until)
                            ELSE g.lease_until END
                  FROM digest g LEFT JOIN destination d ON d.target = g.target
                 WHERE g.state IN ('pending', 'sending')
            ) due
            """
        )
        (seconds,) = cur.fetchone() or (None,)
    return None if seconds is None else max(0.0, float(seconds))


def sweep_failed(
    conn: Connection, *, after_seconds: float, max_sweeps: int, max_age_hours: float
) -> int:
    """Queue again the notifications that failed for good at least ``after_seconds`` ago (a
    permanent error an operator may since have fixed: a token, a chat), each at most
    ``max_sweeps`` times and none older than ``max_age_hours``; return how many."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE notification
                  SET state = 'queued', attempts = 0, sweeps = sweeps + 1,
                      next_attempt_at = d76_now(), failed_at = NULL
                WHERE state = 'failed' AND sweeps < %(max)s
                  AND failed_at < d76_now() - make_interval(secs => %(after)s)
                  AND created_at > d76_now() - make_interval(hours => %(age)s)
                  AND (give_up_at IS NULL OR give_up_at > d76_now())""",
            {"max": max_sweeps, "after": after_seconds, "age": int(max_age_hours)},
        )
        swept = cur.rowcount
        if swept:
            cur.execute(f"NOTIFY {OUTBOX_CHANNEL}")
    return swept
