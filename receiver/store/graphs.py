"""Graph snapshots in PostgreSQL (``alert_graph``, migration 0014): queued with the page,
claimed by a graph worker under a lease, ended done (the PNG, and its photo queued as a
reply where the page went) or skipped (a note). Every write that ends a claim is fenced by
the claim (owner and attempt), so a worker whose lease ran out changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2.extras

from receiver.model import GraphState, Kind
from receiver.store.db import Connection, notify

Cursor = psycopg2.extensions.cursor

# A photo goes right after the pages of its own severity: never before a page as urgent.
PHOTO_PRIORITY_STEP = 1


@dataclass(frozen=True, slots=True)
class Wanted:
    """Which alerts get a graph (``receiver.graphs`` settings, read once at boot)."""

    severities: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # alert names whatever their severity
    never: tuple[str, ...] = ()  # alert names never


_ENQUEUE = """
INSERT INTO alert_graph (alert_id, alert_ts)
SELECT a.id, a.timestamp FROM alert_history a
 WHERE a.id = ANY(%(ids)s) AND a.timestamp = ANY(%(ts)s) AND a.status = 'firing'
   AND (a.severity = ANY(%(severities)s) OR a.alertname = ANY(%(also)s))
   AND a.alertname <> ALL(%(never)s)
ON CONFLICT (alert_id) DO NOTHING
"""


def enqueue(cur: Cursor, wanted: Wanted, paged: Sequence[tuple[int, datetime]]) -> int:
    """Queue a graph for each (alert id, timestamp) just paged that ``wanted`` names, in the
    webhook's transaction: stored with the page or not at all. Returns how many."""
    if not paged or not (wanted.severities or wanted.also):
        return 0
    cur.execute(
        _ENQUEUE,
        {
            "ids": [alert_id for alert_id, _ in paged],
            "ts": sorted({ts for _, ts in paged}),
            "severities": list(wanted.severities),
            "also": list(wanted.also),
            "never": list(wanted.never),
        },
    )
    return int(cur.rowcount)


@dataclass(frozen=True, slots=True)
class GraphJob:
    """A claimed graph, with what the worker needs of its alert."""

    alert_id: int
    alert_ts: datetime
    attempt: int  # with the owner, the claim's fence
    owner: str
    alertname: str
    severity: str
    title: str
    status: str
    starts_at: datetime
    labels: dict[str, str]
    generator_url: str
    now: datetime  # the database's time at the claim


_ABANDON = """
UPDATE alert_graph SET state = 'skipped', finished_at = d76_now(), lease_until = NULL,
       note = 'the graph worker stopped ' || attempts || ' times while drawing it'
 WHERE state = 'rendering' AND lease_until < d76_now() AND attempts >= %(max)s
"""

_CLAIM = """
UPDATE alert_graph g
   SET state = 'rendering', attempts = g.attempts + 1, lease_owner = %(owner)s,
       lease_until = d76_now() + make_interval(secs => %(lease)s)
 WHERE g.alert_id = (SELECT alert_id FROM alert_graph
                      WHERE (state = 'pending' OR (state = 'rendering' AND lease_until < d76_now()))
                        AND attempts < %(max)s
                      ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING g.alert_id, g.alert_ts, g.attempts
"""

_ALERT = """
SELECT alertname, severity, title, status, starts_at, labels, generator_url, d76_now() AS now
  FROM alert_history WHERE id = %s AND timestamp = %s
"""


def claim(
    conn: Connection, *, owner: str, lease_seconds: float, max_attempts: int
) -> GraphJob | None:
    """The oldest graph waiting (or abandoned by a worker that died), under a lease."""
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(_ABANDON, {"max": max_attempts})
        cur.execute(_CLAIM, {"owner": owner, "lease": lease_seconds, "max": max_attempts})
        row = cur.fetchone()
        if row is None:
            return None
        cur.execute(_ALERT, (row["alert_id"], row["alert_ts"]))
        alert = cur.fetchone()
        if alert is None:  # pruned meanwhile
            cur.execute("DELETE FROM alert_graph WHERE alert_id = %s", (row["alert_id"],))
            return None
    return GraphJob(
        alert_id=row["alert_id"],
        alert_ts=row["alert_ts"],
        attempt=row["attempts"],
        owner=owner,
        **alert,
    )


_FENCE = (
    "alert_id = %(id)s AND state = 'rendering'"
    " AND lease_owner = %(owner)s AND attempts = %(attempt)s"
)

# The photo replies to the page in each chat the page was queued for (and not given up on)
# whose channel kind takes pictures, while the alert still fires; the outbox's line keeps it
# behind the page.
_PHOTOS = f"""
INSERT INTO notification (alert_id, alert_ts, kind, target, priority, fingerprint, give_up_at)
SELECT f.alert_id, f.alert_ts, '{Kind.GRAPH}', f.target, f.priority + {PHOTO_PRIORITY_STEP},
       f.fingerprint, d76_now() + make_interval(secs => %(within)s)
  FROM notification f
  JOIN alert_history a ON a.id = f.alert_id AND a.timestamp = f.alert_ts
 WHERE f.alert_id = %(id)s AND f.alert_ts = %(ts)s AND f.kind = '{Kind.FIRING}'
   AND split_part(f.target, '_', 1) = ANY(%(kinds)s) AND a.status = 'firing'
   AND f.state IN ('queued', 'sending', 'sent')
ON CONFLICT (alert_id, kind, target, alert_ts) WHERE kind <> 'reminder' DO NOTHING
"""


def _params(job: GraphJob) -> dict[str, Any]:
    return {"id": job.alert_id, "ts": job.alert_ts, "owner": job.owner, "attempt": job.attempt}


def done(
    conn: Connection,
    job: GraphJob,
    *,
    png: bytes,
    expression: str,
    threshold: str | None,
    render_ms: int,
    photo_within_seconds: float,
    photo_kinds: Sequence[str] = ("telegram",),
) -> int | None:
    """Store the PNG and queue its photos to the targets of ``photo_kinds`` the page went to;
    how many were queued (None: the claim was lost)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""UPDATE alert_graph SET state = '{GraphState.DONE}', png = %(png)s,
                       expression = %(expression)s, threshold = %(threshold)s,
                       render_ms = %(ms)s, note = NULL, finished_at = d76_now(),
                       lease_until = NULL
                 WHERE {_FENCE}""",
            {
                **_params(job),
                "png": psycopg2.Binary(png),
                "expression": expression,
                "threshold": threshold,
                "ms": render_ms,
            },
        )
        if cur.rowcount != 1:
            return None
        cur.execute(
            _PHOTOS, {**_params(job), "within": photo_within_seconds, "kinds": list(photo_kinds)}
        )
        queued = int(cur.rowcount)
    if queued:
        notify(conn)
    return queued


def skipped(
    conn: Connection, job: GraphJob, note: str, *, expression: str | None = None, render_ms: int = 0
) -> bool:
    """End the graph without a picture; ``note`` says why (shown on the alert's page)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""UPDATE alert_graph SET state = '{GraphState.SKIPPED}', note = %(note)s,
                       expression = %(expression)s, render_ms = %(ms)s,
                       finished_at = d76_now(), lease_until = NULL
                 WHERE {_FENCE}""",
            {**_params(job), "note": note[:500], "expression": expression, "ms": render_ms},
        )
        return cur.rowcount == 1


def seconds_until_due(conn: Connection) -> float | None:
    """When the next graph can be claimed: 0 if one waits, the earliest lease's end if one is
    held, None if none is open."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT min(CASE WHEN state = 'pending' THEN 0
                              ELSE greatest(0, extract(epoch FROM lease_until - d76_now())) END)
                 FROM alert_graph WHERE state IN ('pending', 'rendering')"""
        )
        (seconds,) = cur.fetchone() or (None,)
    return None if seconds is None else float(seconds)


def recent_by_state(cur: Cursor) -> dict[str, int]:
    """Graphs by state (for /metrics): every one still open, and the ended ones of the alerts
    that started in the last 24 hours. Two index reads (the open ones' partial index, the
    alerts' timestamps), never the whole table on a scrape."""
    cur.execute(
        """SELECT state, count(*) FROM alert_graph
            WHERE state IN ('pending', 'rendering') GROUP BY 1
           UNION ALL
           SELECT state, count(*) FROM alert_graph
            WHERE state IN ('done', 'skipped') AND alert_ts > now() - interval '1 day'
            GROUP BY 1"""
    )
    return {str(state): int(count) for state, count in cur.fetchall()}
