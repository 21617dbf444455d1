"""Storm digests: over-budget notifications folded into one message per destination.

Each destination has at most one pending digest collecting folded notifications. A digest is
claimed under a lease like a notification; a transient failure returns it to pending (taking
in whatever was folded meanwhile), so nothing folded is ever left without a digest to carry it.
"""

from __future__ import annotations

import json

import psycopg2.errors

from receiver.model import Claimed, Digest
from receiver.store import outbox
from receiver.store.db import Connection
from receiver.store.outbox import pause_destination


def fold(conn: Connection, item: Claimed) -> bool:
    """Over budget: ``item`` will be told in its target's next digest. Fenced like every
    outcome; True if this dispatcher still owned the claim."""
    for _ in range(5):
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id FROM digest WHERE target = %s AND state = 'pending' FOR UPDATE",
                (item.target,),
            )
            row = cur.fetchone()
            if row is None:
                try:
                    cur.execute("SAVEPOINT new_digest")
                    cur.execute(
                        "INSERT INTO digest (target, folded, summary) VALUES (%s, 0, '[]') "
                        "RETURNING id",
                        (item.target,),
                    )
                    row = cur.fetchone()
                except psycopg2.errors.UniqueViolation:  # another dispatcher opened one
                    cur.execute("ROLLBACK TO SAVEPOINT new_digest")
                    continue
            assert row is not None
            cur.execute(
                """UPDATE notification
                      SET state = 'folded', digest_id = %s, lease_until = NULL,
                          attempts = GREATEST(attempts - 1, 0)
                    WHERE id = %s AND alert_ts = %s AND state = 'sending' AND claim_token = %s""",
                (row[0], item.id, item.starts_at, item.claim_token),
            )
            return cur.rowcount == 1
    raise RuntimeError(f"could not open a digest for {item.target}")


def due_targets(conn: Connection) -> list[str]:
    """Destinations with a digest that can be claimed now."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT g.target FROM digest g
                WHERE ((g.state = 'pending' AND g.next_attempt_at <= d76_now())
                       OR (g.state = 'sending' AND g.lease_until < d76_now()))
                  AND NOT EXISTS (SELECT 1 FROM destination d WHERE d.target = g.target
                                     AND d.paused_until > d76_now())"""
        )
        return [row[0] for row in cur.fetchall()]


def claim(conn: Connection, target: str, *, owner: str, lease_seconds: float) -> Digest | None:
    """Claim ``target``'s due digest and fix what it says; None if there is none (or it has
    nothing left to tell: its notifications were superseded meanwhile, and it is dropped)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE digest SET state = 'sending', attempts = attempts + 1,
                      lease_until = d76_now() + make_interval(secs => %(lease)s),
                      lease_owner = %(owner)s, claim_token = nextval('claim_token_seq')
                WHERE id = (SELECT id FROM digest
                             WHERE target = %(t)s
                               AND ((state = 'pending' AND next_attempt_at <= d76_now())
                                    OR (state = 'sending' AND lease_until < d76_now()))
                             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id, claim_token""",
            {"t": target, "lease": lease_seconds, "owner": owner},
        )
        row = cur.fetchone()
        if row is None:
            return None
        digest_id, token = row
        cur.execute(
            """SELECT a.alertname, a.severity, min(a.timestamp), max(a.timestamp),
                      CASE WHEN n.kind = 'resolved' AND NOT EXISTS (
                                SELECT 1 FROM notification f
                                 WHERE f.alert_id = n.alert_id AND f.alert_ts = n.alert_ts
                                   AND f.target = n.target
                                   AND f.kind = 'firing' AND f.state IN ('sent', 'digested'))
                           THEN 'fired-and-resolved' ELSE n.kind END,
                      count(*)
                 FROM notification n
                 JOIN alert_history a ON a.id = n.alert_id AND a.timestamp = n.alert_ts
                WHERE n.digest_id = %s AND n.state = 'folded'
                GROUP BY 1, 2, 5 ORDER BY 6 DESC, 2, 1, 5""",
            (digest_id,),
        )
        rows = cur.fetchall()
        summary = [
            {"alertname": name, "severity": sev, "kind": kind, "count": count}
            for name, sev, _, _, kind, count in rows
        ]
        first = min((row[2] for row in rows), default=None)
        last = max((row[3] for row in rows), default=None)
        folded = sum(entry["count"] for entry in summary)
        if not folded:
            cur.execute("DELETE FROM digest WHERE id = %s", (digest_id,))
            return None
        cur.execute(
            "UPDATE digest SET folded = %s, summary = %s WHERE id = %s",
            (folded, json.dumps(summary), digest_id),
        )
    return Digest(
        digest_id, target, folded, summary, claim_token=token, first_start=first, last_start=last
    )


_FENCE = "id = %(id)s AND state = 'sending' AND claim_token = %(token)s"


def renew(conn: Connection, digest: Digest, lease_seconds: float) -> bool:
    """Extend the lease of a digest claim still held; False if it was lost."""
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""UPDATE digest SET lease_until = d76_now() + make_interval(secs => %(lease)s)
                 WHERE {_FENCE}""",
            {"id": digest.id, "token": digest.claim_token, "lease": lease_seconds},
        )
        return cur.rowcount == 1


def finish(conn: Connection, digest: Digest, message_id: str | None) -> bool:
    """The digest was delivered: its notifications are told."""
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""UPDATE digest SET state = 'sent', sent_at = d76_now(), message_id = %(mid)s,
                       lease_until = NULL WHERE {_FENCE}""",
            {"id": digest.id, "token": digest.claim_token, "mid": message_id},
        )
        if cur.rowcount != 1:
            return False
        cur.execute(
            """UPDATE notification SET state = 'digested', sent_at = d76_now()
                WHERE digest_id = %s AND state = 'folded'""",
            (digest.id,),
        )
        cur.execute(outbox.DESTINATION_WORKS, (digest.target,))
    return True


def retry(
    conn: Connection,
    digest: Digest,
    error: str,
    delay_seconds: float,
    *,
    throttled: bool,
    outcome_unknown: bool = False,
) -> bool:
    """A transient failure: the digest returns to pending after ``delay_seconds`` (the whole
    destination waits as long), absorbing any digest opened meanwhile."""
    pause_destination(conn, digest.target, delay_seconds, error, count_failure=not throttled)
    with conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT 1 FROM digest WHERE {_FENCE} FOR UPDATE",
            {"id": digest.id, "token": digest.claim_token},
        )
        if cur.fetchone() is None:
            return False
        cur.execute(
            "SELECT id FROM digest WHERE target = %s AND state = 'pending' FOR UPDATE",
            (digest.target,),
        )
        for (other,) in cur.fetchall():
            cur.execute(
                "UPDATE notification SET digest_id = %s WHERE digest_id = %s", (digest.id, other)
            )
            cur.execute("DELETE FROM digest WHERE id = %s", (other,))
        cur.execute(
            """UPDATE digest SET state = 'pending', lease_until = NULL, last_error = %s,
                      next_attempt_at = d76_now() + make_interval(secs => %s),
                      unknown_outcomes = unknown_outcomes + %s
                WHERE id = %s""",
            (error, delay_seconds, int(outcome_unknown), digest.id),
        )
    return True


def defer(conn: Connection, target: str, seconds: float) -> None:
    """Over budget: ``target``'s pending digest waits until a slot frees."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE digest SET next_attempt_at = d76_now() + make_interval(secs => %s)
                WHERE target = %s AND state = 'pending'""",
            (seconds, target),
        )


def fail(conn: Connection, digest: Digest, error: str) -> bool:
    """A permanent failure: the digest and what it carried failed, visibly."""
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""UPDATE digest SET state = 'failed', last_error = %(e)s, lease_until = NULL
                 WHERE {_FENCE}""",
            {"id": digest.id, "token": digest.claim_token, "e": error},
        )
        if cur.rowcount != 1:
            return False
        cur.execute(
            """UPDATE notification SET state = 'failed', failed_at = d76_now(), last_error = %s
                WHERE digest_id = %s AND state = 'folded'""",
            (f"digest failed: {error}", digest.id),
        )
    return True
