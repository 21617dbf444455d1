"""The webhook's statements: one per table per request, whatever the number of alerts.

Each batch of rows travels as one JSON document (``jsonb_to_recordset``): one parameter, one
statement, one plan, and the client encodes it with the C JSON encoder instead of quoting
every value of every row (psycopg2's ``execute_values`` did, and split batches of over 100
rows into several statements).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg2.extensions

from receiver.webhook_parser import Alert, Notification

Cursor = psycopg2.extensions.cursor

# The newest episode of each occurrence, locked, and whether it was stored quietly (through
# the maintenance receiver). The partition keys are also given as constants (the alerts' start
# times): the planner then plans only the months they fall in, not every month kept (planning,
# not running, is what a statement over monthly partitions costs). Prepared statements with
# generic plans were tried and left: PostgreSQL then spent 17 ms of CPU per 50-alert request,
# against 6 ms (likely plans made while the month's partition was new and empty). Reminders
# are the escalation timers' (store/escalation.py): nothing here reads the alert's messages.
# The join names fingerprint and start, not the partition key, so the occurrence's unique index
# is the one that fits: joined on timestamp too, a month's partition whose statistics were not
# yet gathered was read through its timestamp index, every alert of the same start for each
# lookup (Prometheus gives the alerts of one evaluation the same start; 6,000 rows read for one
# found, and a webhook of one alert at a fifth of its rate until autovacuum analysed the month).
CURRENT = """
SELECT a.id, a.fingerprint, a.starts_at, a.episode, a.severity, a.status, a.acknowledged, a.ends_at,
       a.receiver = %(quiet)s
  FROM alert_history a
  JOIN unnest(%(fingerprints)s::text[], %(starts)s::timestamptz[]) AS k(fingerprint, starts_at)
    ON a.fingerprint = k.fingerprint AND a.starts_at = k.starts_at
 WHERE a.timestamp = ANY(%(starts)s::timestamptz[])
 ORDER BY a.fingerprint, a.starts_at, a.episode
   FOR UPDATE OF a
"""


def current(cur: Cursor, alerts: Sequence[Alert], quiet_receiver: str) -> None:
    """Run CURRENT for ``alerts`` (fetch its rows from ``cur``)."""
    fingerprints, starts = [a.fingerprint for a in alerts], [a.starts_at for a in alerts]
    cur.execute(CURRENT, {"fingerprints": fingerprints, "starts": starts, "quiet": quiet_receiver})


_INSERT = """
INSERT INTO alert_history (timestamp, severity, source, title, message, metadata, fingerprint,
                           alertname, status, starts_at, ends_at, labels, annotations,
                           generator_url, receiver, episode)
SELECT r.starts_at, r.severity, r.source, r.title, r.message,
       %(metadata)s::jsonb || CASE WHEN r.maintenance IS NULL THEN '{}'::jsonb
                                   ELSE jsonb_build_object('maintenance', r.maintenance) END,
       r.fingerprint,
       r.alertname, r.status, r.starts_at, r.ends_at, r.labels, r.annotations,
       r.generator_url, %(receiver)s, r.episode
  FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
         starts_at timestamptz, severity text, source text, title text, message text,
         fingerprint text, alertname text, status text, ends_at timestamptz, labels jsonb,
         annotations jsonb, generator_url text, episode integer, maintenance text)
ON CONFLICT ON CONSTRAINT alert_history_occurrence DO NOTHING
RETURNING id, fingerprint, starts_at, status, severity
"""

_RESOLVE = """
UPDATE alert_history a
   SET status = 'resolved', ends_at = v.ends_at, annotations = v.annotations,
       title = v.title, message = v.message, updated_at = d76_now()
  FROM jsonb_to_recordset(%s::jsonb) AS v(
         id bigint, ts timestamptz, ends_at timestamptz, annotations jsonb, title text,
         message text)
 WHERE a.id = v.id AND a.timestamp = v.ts AND a.status = 'firing'
   AND a.timestamp = ANY(%s::timestamptz[])
RETURNING a.id, a.severity
"""

# A firing (or reminder, or escalation) that has not gone out when its alert resolves never
# will: the resolved message says "fired at X, resolved at Y". One already in a digest being
# sent, or being sent itself, stays: the resolved waits for it (messages of one alert go in
# order).
SUPERSEDE = """
UPDATE notification n
   SET state = CASE WHEN n.kind = 'firing' THEN 'superseded' ELSE 'cancelled' END,
       last_error = 'resolved before delivery', digest_id = NULL, lease_until = NULL
 WHERE n.alert_id = ANY(%s) AND n.alert_ts = ANY(%s)
   AND n.kind IN ('firing', 'reminder', 'escalation')
   AND (n.state = 'queued'
        OR (n.state = 'folded'
            AND EXISTS (SELECT 1 FROM digest d WHERE d.id = n.digest_id AND d.state = 'pending')))
"""

# alert_ts, the alert's timestamp, puts each message in its alert's month (migration 0011).
_QUEUE = """
INSERT INTO notification (alert_id, alert_ts, kind, target, priority, fingerprint, give_up_at)
SELECT q.alert_id, q.alert_ts, q.kind, q.target, q.priority, q.fingerprint,
       d76_now() + make_interval(secs => %(retry_for)s)
  FROM unnest(%(alert_ids)s::bigint[], %(alert_ts)s::timestamptz[], %(kinds)s::text[],
              %(targets)s::text[], %(priorities)s::smallint[], %(fingerprints)s::text[])
       AS q(alert_id, alert_ts, kind, target, priority, fingerprint)
ON CONFLICT (alert_id, kind, target, alert_ts) WHERE kind <> 'reminder' DO NOTHING
"""

HEARTBEAT = """
INSERT INTO heartbeat (name, last_seen, status) VALUES ('watchdog', now(), %s)
ON CONFLICT (name) DO UPDATE SET last_seen = now(), status = EXCLUDED.status
"""


def _document(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(rows, default=_iso, separators=(",", ":"))


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a batch")


def title_and_message(alert: Alert) -> tuple[str, str]:
    annotations = alert.annotations
    title = annotations.get("summary") or alert.alertname
    message = annotations.get("description") or annotations.get("summary") or ""
    return title[:200], message


def history_row(alert: Alert, episode: int, inside: str | None = None) -> dict[str, Any]:
    """One ``alert_history`` row of the batch (the notification's own columns are added by
    ``insert_history``); ``inside``: the maintenance window it fired in (metadata)."""
    labels = alert.labels
    title, message = title_and_message(alert)
    return {
        "starts_at": alert.starts_at,
        "severity": labels.get("severity", "none")[:10],
        "source": labels.get("source", "unknown")[:50],
        "title": title,
        "message": message,
        "fingerprint": alert.fingerprint,
        "alertname": alert.alertname,
        "status": alert.status,
        "ends_at": alert.ends_at,
        "labels": labels,
        "annotations": alert.annotations,
        "generator_url": alert.generator_url,
        "episode": episode,
        "maintenance": inside,
    }


def insert_history(
    cur: Cursor, notification: Notification, rows: Sequence[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """Insert the rows in one statement; return (id, fingerprint, starts_at, status, severity)
    of those inserted (an occurrence a concurrent request inserted first is left out)."""
    metadata = {"groupKey": notification.group_key, "externalURL": notification.external_url}
    document = _document(rows)
    cur.execute(
        _INSERT,
        {"metadata": json.dumps(metadata), "receiver": notification.receiver, "rows": document},
    )
    return cur.fetchall()


def resolve_row(alert_id: int, alert: Alert) -> dict[str, Any]:
    title, message = title_and_message(alert)
    return {
        "id": alert_id,
        "ts": alert.starts_at,
        "ends_at": alert.ends_at,
        "annotations": alert.annotations,
        "title": title,
        "message": message,
    }


def resolve_history(cur: Cursor, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """Resolve the firing rows in one statement, then supersede their undelivered firings in
    another; return (id, severity) of those resolved."""
    times = sorted({row["ts"] for row in rows})  # the partition keys, as constants
    cur.execute(_RESOLVE, (_document(rows), times))
    resolved = [(int(alert_id), str(severity)) for alert_id, severity in cur.fetchall()]
    if resolved:
        cur.execute(SUPERSEDE, ([alert_id for alert_id, _ in resolved], times))
    return resolved


Queued = tuple[int, datetime, str, str, int, str]


def queue(cur: Cursor, rows: Sequence[Queued], retry_for: float) -> int:
    """Queue (alert_id, alert_ts, kind, target, priority, fingerprint) rows in one statement;
    return how many were new (one already queued for the same alert, kind and target is not)."""
    columns = (list(c) for c in zip(*rows, strict=True))
    alert_ids, alert_ts, kinds, targets, priorities, fingerprints = columns
    cur.execute(
        _QUEUE,
        {
            "retry_for": retry_for,
            "alert_ids": alert_ids,
            "alert_ts": alert_ts,
            "kinds": kinds,
            "targets": targets,
            "priorities": priorities,
            "fingerprints": fingerprints,
        },
    )
    return int(cur.rowcount)


WAKE = """
UPDATE alert_history SET receiver = %s, updated_at = d76_now()
 WHERE id = ANY(%s) AND timestamp = ANY(%s)
"""
