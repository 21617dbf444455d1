"""Every SQL statement the receiver runs, and nothing else.

The webhook stores alerts and queues their notifications in one transaction (``ingest``);
the dispatcher claims due notifications and records each attempt. Connections are plain
psycopg2 connections; callers own transactions through ``with conn:``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from receiver.history import HistoryFilter
from receiver.payload import Alert, Notification

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
OUTBOX_CHANNEL = "d76_outbox"  # NOTIFY channel the dispatcher LISTENs on
WATCHDOG = "Watchdog"  # the always-firing alert whose arrivals prove the pipeline works
SEVERITY_PRIORITY = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
UNKNOWN_PRIORITY = 9

# Errors that mean "the database is not there right now": the caller answers 503 or retries.
UNAVAILABLE = (psycopg2.OperationalError, psycopg2.InterfaceError)


def connect(dsn: str, *, connect_timeout: int = 5) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(dsn, connect_timeout=connect_timeout, application_name="d76-receiver")
    return conn


def migrate(dsn: str, *, wait_seconds: float = 30.0) -> int:
    """Apply pending migrations under yoyo's lock (safe to run concurrently and twice).

    Waits up to ``wait_seconds`` for the database to accept connections. Returns how many
    migrations were applied.
    """
    from yoyo import get_backend, read_migrations

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            backend = get_backend(dsn)  # postgresql:// selects yoyo's psycopg2 backend
            break
        except UNAVAILABLE:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)


# ---------------------------------------------------------------- webhook ingest


@dataclass(frozen=True, slots=True)
class IngestResult:
    alerts: int  # alerts in the payload
    new: int  # occurrences seen for the first time
    resolved: int  # occurrences that became resolved
    queued: int  # notifications queued for delivery


def _row(alert: Alert, notification: Notification) -> tuple[Any, ...]:
    labels, annotations = alert.labels, alert.annotations
    title = annotations.get("summary") or alert.alertname
    message = annotations.get("description") or annotations.get("summary") or ""
    metadata = {"groupKey": notification.group_key, "externalURL": notification.external_url}
    return (
        alert.starts_at,
        labels.get("severity", "none")[:10],
        labels.get("source", "unknown")[:50],
        title[:200],
        message,
        json.dumps(metadata),
        alert.fingerprint,
        alert.alertname,
        alert.status,
        alert.starts_at,
        alert.ends_at,
        json.dumps(labels),
        json.dumps(annotations),
        alert.generator_url,
        notification.receiver,
    )


_UPSERT_ALERTS = """
INSERT INTO alert_history (timestamp, severity, source, title, message, metadata, fingerprint,
                           alertname, status, starts_at, ends_at, labels, annotations,
                           generator_url, receiver)
VALUES %s
ON CONFLICT ON CONSTRAINT alert_history_occurrence DO UPDATE
   SET status = EXCLUDED.status,
       ends_at = EXCLUDED.ends_at,
       annotations = EXCLUDED.annotations,
       title = EXCLUDED.title,
       message = EXCLUDED.message,
       updated_at = now()
 WHERE alert_history.status = 'firing' AND EXCLUDED.status = 'resolved'
RETURNING id, status, severity, (xmax = 0) AS inserted
"""

_QUEUE = """
INSERT INTO notification (alert_id, kind, target, priority) VALUES %s
ON CONFLICT ON CONSTRAINT notification_once DO NOTHING
RETURNING id
"""


def _unique_occurrences(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per (fingerprint, startsAt); a resolved copy wins over a firing one."""
    chosen: dict[tuple[str, datetime], Alert] = {}
    for alert in alerts:
        key = (alert.fingerprint, alert.starts_at)
        if key not in chosen or alert.status == "resolved":
            chosen[key] = alert
    return list(chosen.values())


def ingest(
    conn: psycopg2.extensions.connection, notification: Notification, targets: Sequence[str]
) -> IngestResult:
    """Store every alert and queue its notifications in one transaction; commit before return.

    Idempotent: the same occurrence posted again (a retry, a second Alertmanager) changes
    nothing and queues nothing.
    """
    alerts = _unique_occurrences(notification.alerts)
    if not alerts:
        return IngestResult(alerts=0, new=0, resolved=0, queued=0)
    watchdog = [a for a in alerts if a.alertname == WATCHDOG]
    with conn, conn.cursor() as cur:
        if watchdog:  # every arrival counts, repeats included: the dead man's switch
            cur.execute(
                """INSERT INTO heartbeat (name, last_seen, status) VALUES ('watchdog', now(), %s)
                   ON CONFLICT (name) DO UPDATE SET last_seen = now(), status = EXCLUDED.status""",
                ("firing" if any(a.status == "firing" for a in watchdog) else "resolved",),
            )
        rows = psycopg2.extras.execute_values(
            cur, _UPSERT_ALERTS, [_row(a, notification) for a in alerts], fetch=True
        )
        queue: list[tuple[int, str, str, int]] = []
        new = resolved = 0
        for alert_id, status, severity, inserted in rows:
            new += int(inserted)
            resolved += int(status == "resolved")
            priority = SEVERITY_PRIORITY.get(severity, UNKNOWN_PRIORITY)
            queue.extend((alert_id, status, target, priority) for target in targets)
        queued = 0
        if queue:
            queued = len(psycopg2.extras.execute_values(cur, _QUEUE, queue, fetch=True))
    if queued:
        # NOTIFY after the commit, in a transaction of its own: a NOTIFY inside the storing
        # transaction would serialise every commit (and its fsync) on the notify queue lock.
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f"NOTIFY {OUTBOX_CHANNEL}")
        finally:
            conn.autocommit = False
    return IngestResult(alerts=len(alerts), new=new, resolved=resolved, queued=queued)


# ---------------------------------------------------------------- dispatcher


@dataclass(frozen=True, slots=True)
class Claimed:
    """A notification claimed for delivery, with the alert it is about."""

    id: int
    kind: str
    target: str
    priority: int
    attempts: int
    reply_to: str | None  # message id of the firing message, for a resolved reply
    alert_id: int
    severity: str
    source: str
    alertname: str
    title: str
    message: str
    status: str
    starts_at: datetime
    ends_at: datetime | None
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str


_CLAIM = """
WITH due AS (
    SELECT n.id
      FROM notification n
     WHERE ((n.state = 'queued' AND n.next_attempt_at <= now())
            OR (n.state = 'sending' AND n.lease_until < now()))
       AND NOT (n.kind = 'resolved' AND EXISTS (
               SELECT 1 FROM notification f
                WHERE f.alert_id = n.alert_id AND f.target = n.target
                  AND f.kind = 'firing' AND f.state IN ('queued', 'sending')))
     ORDER BY n.priority, n.id
     LIMIT %(limit)s
       FOR UPDATE OF n SKIP LOCKED
)
UPDATE notification n
   SET state = 'sending',
       lease_until = now() + make_interval(secs => %(lease)s),
       attempts = n.attempts + 1
  FROM due, alert_history a
 WHERE n.id = due.id AND a.id = n.alert_id
RETURNING n.id, n.kind, n.target, n.priority, n.attempts,
          (SELECT f.message_id FROM notification f
            WHERE f.alert_id = n.alert_id AND f.target = n.target AND f.kind = 'firing'),
          a.id, a.severity, a.source, a.alertname, a.title, a.message, a.status,
          a.starts_at, a.ends_at, a.labels, a.annotations, a.generator_url
"""


def claim(
    conn: psycopg2.extensions.connection, *, limit: int, lease_seconds: float
) -> list[Claimed]:
    """Claim up to ``limit`` due notifications, most urgent first, under a lease."""
    with conn, conn.cursor() as cur:
        cur.execute(_CLAIM, {"limit": limit, "lease": lease_seconds})
        claimed = [Claimed(*row) for row in cur.fetchall()]
    claimed.sort(key=lambda c: (c.priority, c.id))
    return claimed


def seconds_until_due(conn: psycopg2.extensions.connection) -> float | None:
    """Seconds until the next queued notification or expired lease is due; None if none."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT EXTRACT(EPOCH FROM MIN(CASE WHEN state = 'queued' THEN next_attempt_at
                                               ELSE lease_until END) - now())
              FROM notification WHERE state IN ('queued', 'sending')
            """
        )
        (seconds,) = cur.fetchone() or (None,)
    return None if seconds is None else max(0.0, float(seconds))


def _attempt(
    cur: psycopg2.extensions.cursor,
    notification_id: int,
    outcome: str,
    duration_ms: int,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    cur.execute(
        """INSERT INTO notification_attempt
                  (notification_id, outcome, duration_ms, message_id, error)
           VALUES (%s, %s, %s, %s, %s)""",
        (notification_id, outcome, duration_ms, message_id, error),
    )


def record_sent(
    conn: psycopg2.extensions.connection,
    notification_id: int,
    message_id: str | None,
    duration_ms: int,
) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE notification SET state = 'sent', sent_at = now(), message_id = %s,
                      lease_until = NULL, last_error = NULL
                WHERE id = %s""",
            (message_id, notification_id),
        )
        _attempt(cur, notification_id, "sent", duration_ms, message_id=message_id)


def record_retry(
    conn: psycopg2.extensions.connection,
    notification_id: int,
    error: str,
    delay_seconds: float,
    duration_ms: int,
) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE notification SET state = 'queued', lease_until = NULL, last_error = %s,
                      next_attempt_at = now() + make_interval(secs => %s)
                WHERE id = %s""",
            (error, delay_seconds, notification_id),
        )
        _attempt(cur, notification_id, "retry", duration_ms, error=error)


def record_final(
    conn: psycopg2.extensions.connection,
    notification_id: int,
    state: str,
    error: str,
    duration_ms: int,
) -> None:
    """End a notification without delivery: ``failed`` (gave up) or ``unsent`` (no channel)."""
    if state not in ("failed", "unsent"):
        raise ValueError(f"not a final undelivered state: {state}")
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE notification SET state = %s, lease_until = NULL, last_error = %s,
                      failed_at = CASE WHEN %s = 'failed' THEN now() END
                WHERE id = %s""",
            (state, error, state, notification_id),
        )
        _attempt(cur, notification_id, state, duration_ms, error=error)


def listen(conn: psycopg2.extensions.connection) -> None:
    """Subscribe an autocommit connection to new-work notifications."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"LISTEN {OUTBOX_CHANNEL}")


# ---------------------------------------------------------------- rate limit and digests


def reserve_send(
    conn: psycopg2.extensions.connection,
    target: str,
    *,
    allowed: int,
    window_seconds: float,
) -> tuple[int | None, float]:
    """Take one slot of ``target``'s budget if fewer than ``allowed`` sends are in the window.

    Serialised per target with an advisory lock, so several dispatchers share one budget.
    Returns (slot id, 0) when granted, else (None, seconds until the oldest send leaves the
    window).
    """
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"d76-send:{target}",))
        cur.execute(
            """SELECT count(*),
                      EXTRACT(EPOCH FROM MIN(sent_at) + make_interval(secs => %(w)s)
                                         - clock_timestamp())
                 FROM channel_send
                WHERE target = %(t)s
                  AND sent_at > clock_timestamp() - make_interval(secs => %(w)s)""",
            {"t": target, "w": window_seconds},
        )
        used, frees_in = cur.fetchone() or (0, None)
        if used >= allowed:
            return None, max(0.05, float(frees_in or window_seconds))
        cur.execute("INSERT INTO channel_send (target) VALUES (%s) RETURNING id", (target,))
        (slot,) = cur.fetchone() or (None,)
        cur.execute(
            "DELETE FROM channel_send WHERE target = %s AND sent_at < now() - interval '1 hour'",
            (target,),
        )
    return slot, 0.0


def release_send(conn: psycopg2.extensions.connection, slot: int) -> None:
    """Give back a slot whose message was not delivered."""
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM channel_send WHERE id = %s", (slot,))


def postpone(conn: psycopg2.extensions.connection, notification_id: int, seconds: float) -> None:
    """Back to the queue without counting an attempt: the budget, not the channel, said no."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE notification SET state = 'queued', lease_until = NULL,
                      attempts = GREATEST(attempts - 1, 0),
                      next_attempt_at = now() + make_interval(secs => %s)
                WHERE id = %s""",
            (seconds, notification_id),
        )


def fold(conn: psycopg2.extensions.connection, notification_id: int) -> None:
    """Over budget: the notification will be told in the target's next digest instead."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE notification SET state = 'folded', lease_until = NULL,
                      attempts = GREATEST(attempts - 1, 0)
                WHERE id = %s""",
            (notification_id,),
        )


def targets_with_folded(conn: psycopg2.extensions.connection) -> list[str]:
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT target FROM notification WHERE state = 'folded' AND digest_id IS NULL"
        )
        return [row[0] for row in cur.fetchall()]


@dataclass(frozen=True, slots=True)
class Digest:
    id: int
    target: str
    folded: int
    summary: list[dict[str, Any]]  # alertname, severity, kind, count; most frequent first


def start_digest(conn: psycopg2.extensions.connection, target: str) -> Digest | None:
    """Gather every folded, undigested notification of ``target`` into a new digest."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT n.id, a.alertname, a.severity, n.kind
                 FROM notification n JOIN alert_history a ON a.id = n.alert_id
                WHERE n.target = %s AND n.state = 'folded' AND n.digest_id IS NULL
                  FOR UPDATE OF n SKIP LOCKED""",
            (target,),
        )
        rows = cur.fetchall()
        if not rows:
            return None
        counts: dict[tuple[str, str, str], int] = {}
        for _, alertname, severity, kind in rows:
            counts[(alertname, severity, kind)] = counts.get((alertname, severity, kind), 0) + 1
        summary = [
            {"alertname": name, "severity": sev, "kind": kind, "count": count}
            for (name, sev, kind), count in sorted(
                counts.items(), key=lambda item: (-item[1], item[0][1], item[0][0])
            )
        ]
        cur.execute(
            "INSERT INTO digest (target, folded, summary) VALUES (%s, %s, %s) RETURNING id",
            (target, len(rows), json.dumps(summary)),
        )
        (digest_id,) = cur.fetchone() or (0,)
        cur.execute(
            "UPDATE notification SET digest_id = %s WHERE id = ANY(%s)",
            (digest_id, [row[0] for row in rows]),
        )
    return Digest(digest_id, target, len(rows), summary)


def finish_digest(
    conn: psycopg2.extensions.connection, digest_id: int, message_id: str | None
) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE digest SET state = 'sent', sent_at = now(), message_id = %s WHERE id = %s",
            (message_id, digest_id),
        )


def fail_digest(conn: psycopg2.extensions.connection, digest_id: int, error: str) -> None:
    """The digest was not delivered: its notifications go into the next one."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE digest SET state = 'failed', last_error = %s WHERE id = %s", (error, digest_id)
        )
        cur.execute("UPDATE notification SET digest_id = NULL WHERE digest_id = %s", (digest_id,))


# ---------------------------------------------------------------- the daily summary


@dataclass(frozen=True, slots=True)
class DaySummary:
    day: date
    total: int
    by_severity: list[tuple[str, int]]
    by_source: list[tuple[str, int]]
    noisiest: list[tuple[str, str, int]]  # alertname, severity, occurrences
    urgent: list[dict[str, Any]]  # P0/P1 occurrences with seconds to ack and to resolve
    rows: list[tuple[Any, ...]]  # every alert of the day, for the CSV attachment
    columns: tuple[str, ...]


_SUMMARY_COLUMNS = (
    "id",
    "timestamp",
    "severity",
    "source",
    "alertname",
    "title",
    "status",
    "ends_at",
    "acknowledged",
    "acknowledged_at",
    "acknowledged_by",
    "labels",
)


def day_summary(conn: psycopg2.extensions.connection, day: date) -> DaySummary:
    """Everything the daily report says about the alerts that started on ``day`` (UTC)."""
    window = {"start": datetime.combine(day, datetime.min.time(), tzinfo=UTC)}
    window["end"] = window["start"] + timedelta(days=1)
    where = "timestamp >= %(start)s AND timestamp < %(end)s"
    with conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT severity, count(*) FROM alert_history WHERE {where} GROUP BY 1 ORDER BY 1",
            window,
        )
        by_severity = [(s, n) for s, n in cur.fetchall()]
        cur.execute(
            f"SELECT source, count(*) FROM alert_history WHERE {where} "
            "GROUP BY 1 ORDER BY 2 DESC, 1",
            window,
        )
        by_source = [(s, n) for s, n in cur.fetchall()]
        cur.execute(
            f"SELECT alertname, severity, count(*) FROM alert_history WHERE {where} "
            "GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10",
            window,
        )
        noisiest = [(a, s, n) for a, s, n in cur.fetchall()]
        cur.execute(
            f"""SELECT id, timestamp, severity, alertname, title, status,
                       EXTRACT(EPOCH FROM acknowledged_at - starts_at),
                       EXTRACT(EPOCH FROM ends_at - starts_at)
                  FROM alert_history WHERE {where} AND severity IN ('P0', 'P1')
                 ORDER BY timestamp, id""",
            window,
        )
        urgent = [
            {
                "id": i,
                "timestamp": t,
                "severity": s,
                "alertname": a,
                "title": ti,
                "status": st,
                "ack_seconds": None if ack is None else float(ack),
                "resolve_seconds": None if res is None else float(res),
            }
            for i, t, s, a, ti, st, ack, res in cur.fetchall()
        ]
        cur.execute(
            f"SELECT {', '.join(_SUMMARY_COLUMNS)} FROM alert_history WHERE {where} "
            "ORDER BY timestamp, id",
            window,
        )
        rows = cur.fetchall()
    return DaySummary(
        day, len(rows), by_severity, by_source, noisiest, urgent, rows, _SUMMARY_COLUMNS
    )


def claim_daily_summary(conn: psycopg2.extensions.connection, day: date) -> bool:
    """True for the one caller that gets to send ``day``'s summary."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO daily_summary (day, state) VALUES (%s, 'sending') "
            "ON CONFLICT (day) DO NOTHING RETURNING day",
            (day,),
        )
        return cur.fetchone() is not None


def finish_daily_summary(
    conn: psycopg2.extensions.connection, day: date, state: str, error: str | None = None
) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE daily_summary SET state = %s, finished_at = now(), error = %s WHERE day = %s",
            (state, error, day),
        )


# ---------------------------------------------------------------- acknowledgement and actions


def acknowledge(
    conn: psycopg2.extensions.connection, alert_id: int, actor: str, comment: str | None = None
) -> bool:
    """Mark the alert acknowledged (idempotent); False if there is no such alert."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE alert_history
                  SET acknowledged = TRUE, acknowledged_at = now(), acknowledged_by = %s,
                      updated_at = now()
                WHERE id = %s AND NOT acknowledged""",
            (actor, alert_id),
        )
        if cur.rowcount:
            cur.execute(
                "INSERT INTO alert_action (alert_id, action, actor, detail) "
                "VALUES (%s, 'ack', %s, %s)",
                (alert_id, actor, json.dumps({"comment": comment} if comment else {})),
            )
            return True
        cur.execute("SELECT 1 FROM alert_history WHERE id = %s", (alert_id,))
        return cur.fetchone() is not None


def record_action(
    conn: psycopg2.extensions.connection,
    alert_id: int,
    action: str,
    actor: str,
    detail: dict[str, Any],
) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO alert_action (alert_id, action, actor, detail) VALUES (%s, %s, %s, %s)",
            (alert_id, action, actor, json.dumps(detail)),
        )


@dataclass(frozen=True, slots=True)
class Action:
    action: str
    actor: str
    at: datetime
    detail: dict[str, Any]


def alert_view(conn: psycopg2.extensions.connection, alert_id: int) -> Claimed | None:
    """The alert as its firing message shows it (for editing that message)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT 0, 'firing', 'telegram', 0, 0, NULL, id, severity, source, alertname,
                      title, message, status, starts_at, ends_at, labels, annotations,
                      generator_url
                 FROM alert_history WHERE id = %s""",
            (alert_id,),
        )
        row = cur.fetchone()
    return Claimed(*row) if row else None


def actions_for(conn: psycopg2.extensions.connection, alert_id: int) -> list[Action]:
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT action, actor, at, detail FROM alert_action WHERE alert_id = %s "
            "ORDER BY at, id",
            (alert_id,),
        )
        return [Action(*row) for row in cur.fetchall()]


def try_singleton_lock(conn: psycopg2.extensions.connection, name: str) -> bool:
    """A session-level advisory lock: held until ``conn`` closes (one holder across processes)."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (name,))
        (locked,) = cur.fetchone() or (False,)
    conn.autocommit = False
    return bool(locked)


def sweep_failed(
    conn: psycopg2.extensions.connection,
    *,
    after_seconds: float,
    max_sweeps: int,
    max_age_hours: float,
) -> int:
    """Queue again the notifications that failed at least ``after_seconds`` ago (each at most
    ``max_sweeps`` times, none older than ``max_age_hours``); return how many."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE notification
                  SET state = 'queued', attempts = 0, sweeps = sweeps + 1,
                      next_attempt_at = now(), failed_at = NULL
                WHERE state = 'failed' AND sweeps < %(max)s
                  AND failed_at < now() - make_interval(secs => %(after)s)
                  AND created_at > now() - make_interval(hours => %(age)s)""",
            {"max": max_sweeps, "after": after_seconds, "age": int(max_age_hours)},
        )
        swept = cur.rowcount
        if swept:
            cur.execute(f"NOTIFY {OUTBOX_CHANNEL}")
    return swept


# ---------------------------------------------------------------- the history API

_ALERT_COLUMNS = (
    "id",
    "timestamp",
    "severity",
    "source",
    "title",
    "message",
    "metadata",
    "acknowledged",
    "acknowledged_at",
    "acknowledged_by",
    "fingerprint",
    "alertname",
    "status",
    "starts_at",
    "ends_at",
    "labels",
    "annotations",
    "generator_url",
    "receiver",
)


def _where(f: HistoryFilter) -> tuple[str, dict[str, Any]]:
    clauses = ["timestamp >= %(start)s", "timestamp < %(end)s"]
    params: dict[str, Any] = {"start": f.start, "end": f.end}
    if f.severities:
        clauses.append("severity = ANY(%(severities)s)")
        params["severities"] = list(f.severities)
    if f.sources:
        clauses.append("source = ANY(%(sources)s)")
        params["sources"] = list(f.sources)
    if f.alertnames:
        clauses.append("alertname = ANY(%(alertnames)s)")
        params["alertnames"] = list(f.alertnames)
    if f.status is not None:
        clauses.append("status = %(status)s")
        params["status"] = f.status
    if f.acknowledged is not None:
        clauses.append("acknowledged = %(acknowledged)s")
        params["acknowledged"] = f.acknowledged
    if f.labels:
        clauses.append("labels @> %(labels)s")
        params["labels"] = json.dumps(f.labels)
    return " AND ".join(clauses), params


def _alert_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(_ALERT_COLUMNS, row, strict=True))


def list_alerts(
    conn: psycopg2.extensions.connection,
    f: HistoryFilter,
    limit: int,
    after: tuple[datetime, int] | None,
) -> tuple[list[dict[str, Any]], bool]:
    """Alerts matching ``f``, newest first (timestamp, id), after the keyset ``after``;
    returns the page and whether more follow."""
    where, params = _where(f)
    if after is not None:
        where += " AND (timestamp, id) < (%(after_ts)s, %(after_id)s)"
        params.update(after_ts=after[0], after_id=after[1])
    params["limit"] = limit + 1
    with conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(_ALERT_COLUMNS)} FROM alert_history WHERE {where} "
            "ORDER BY timestamp DESC, id DESC LIMIT %(limit)s",
            params,
        )
        rows = cur.fetchall()
    return [_alert_dict(r) for r in rows[:limit]], len(rows) > limit


def alert_detail(conn: psycopg2.extensions.connection, alert_id: int) -> dict[str, Any] | None:
    """One alert with its whole lifecycle: notifications and every attempt, actions."""
    with conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(_ALERT_COLUMNS)} FROM alert_history WHERE id = %s", (alert_id,)
        )
        row = cur.fetchone()
        if row is None:
            return None
        alert = _alert_dict(row)
        cur.execute(
            """SELECT n.id, n.kind, n.target, n.state, n.attempts, n.sweeps, n.created_at,
                      n.sent_at, n.message_id, n.last_error, n.digest_id,
                      COALESCE(json_agg(json_build_object(
                          'at', a.attempted_at, 'outcome', a.outcome,
                          'duration_ms', a.duration_ms, 'message_id', a.message_id,
                          'error', a.error) ORDER BY a.id)
                        FILTER (WHERE a.id IS NOT NULL), '[]')
                 FROM notification n LEFT JOIN notification_attempt a ON a.notification_id = n.id
                WHERE n.alert_id = %s GROUP BY n.id ORDER BY n.id""",
            (alert_id,),
        )
        names = (
            "id",
            "kind",
            "target",
            "state",
            "attempts",
            "sweeps",
            "created_at",
            "sent_at",
            "message_id",
            "last_error",
            "digest_id",
            "attempt_log",
        )
        alert["notifications"] = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        cur.execute(
            "SELECT action, actor, at, detail FROM alert_action WHERE alert_id = %s "
            "ORDER BY at, id",
            (alert_id,),
        )
        alert["actions"] = [
            dict(zip(("action", "actor", "at", "detail"), r, strict=True)) for r in cur.fetchall()
        ]
    return alert


def acknowledge_matching(
    conn: psycopg2.extensions.connection, f: HistoryFilter, actor: str, comment: str | None
) -> int:
    """Acknowledge every unacknowledged alert matching ``f``; return how many."""
    where, params = _where(f)
    params.update(actor=actor, detail=json.dumps({"comment": comment} if comment else {}))
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""WITH acked AS (
                   UPDATE alert_history SET acknowledged = TRUE, acknowledged_at = now(),
                          acknowledged_by = %(actor)s, updated_at = now()
                    WHERE {where} AND NOT acknowledged
                RETURNING id)
                INSERT INTO alert_action (alert_id, action, actor, detail)
                SELECT id, 'ack', %(actor)s, %(detail)s FROM acked""",
            params,
        )
        return int(cur.rowcount)


def bucket_counts(
    conn: psycopg2.extensions.connection, f: HistoryFilter, bucket: str, column: str
) -> list[dict[str, Any]]:
    """Alerts matching ``f`` per hour or day and per value of ``column``."""
    if bucket not in ("hour", "day") or column not in ("severity", "source", "alertname"):
        raise ValueError((bucket, column))
    where, params = _where(f)
    params["bucket"] = bucket
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""SELECT date_trunc(%(bucket)s, timestamp AT TIME ZONE 'UTC'), {column}, count(*)
                  FROM alert_history WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2""",
            params,
        )
        return [
            {"bucket": b.replace(tzinfo=UTC).isoformat(), column: v, "count": n}
            for b, v, n in cur.fetchall()
        ]


def stats(conn: psycopg2.extensions.connection, f: HistoryFilter, bucket: str) -> dict[str, Any]:
    """Counts per bucket by severity, source and alert name; times to ack and to resolve;
    the noisiest rules; flapping alerts (fired three or more times in the range)."""
    if bucket not in ("hour", "day"):
        raise ValueError(bucket)
    out: dict[str, Any] = {
        f"by_{column}": bucket_counts(conn, f, bucket, column)
        for column in ("severity", "source", "alertname")
    }
    where, params = _where(f)
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""SELECT count(*),
                       avg(EXTRACT(EPOCH FROM acknowledged_at - starts_at)),
                       percentile_cont(0.9) WITHIN GROUP (
                           ORDER BY EXTRACT(EPOCH FROM acknowledged_at - starts_at)),
                       count(acknowledged_at),
                       avg(EXTRACT(EPOCH FROM ends_at - starts_at)),
                       percentile_cont(0.9) WITHIN GROUP (
                           ORDER BY EXTRACT(EPOCH FROM ends_at - starts_at)),
                       count(ends_at)
                  FROM alert_history WHERE {where}""",
            params,
        )
        total, ack_mean, ack_p90, acked, res_mean, res_p90, resolved = cur.fetchone() or (
            0,
            None,
            None,
            0,
            None,
            None,
            0,
        )

        def num(value: Any) -> float | None:
            return None if value is None else round(float(value), 3)

        out["total"] = total
        out["time_to_ack_seconds"] = {"count": acked, "mean": num(ack_mean), "p90": num(ack_p90)}
        out["time_to_resolve_seconds"] = {
            "count": resolved,
            "mean": num(res_mean),
            "p90": num(res_p90),
        }
        cur.execute(
            f"""SELECT alertname, severity, count(*) FROM alert_history WHERE {where}
                 GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10""",
            params,
        )
        out["noisiest"] = [
            {"alertname": a, "severity": s, "count": n} for a, s, n in cur.fetchall()
        ]
        cur.execute(
            f"""SELECT alertname, fingerprint, min(labels::text), count(*),
                       count(*) FILTER (WHERE status = 'resolved')
                  FROM alert_history WHERE {where}
                 GROUP BY 1, 2 HAVING count(*) >= 3 ORDER BY 4 DESC, 1 LIMIT 20""",
            params,
        )
        out["flapping"] = [
            {
                "alertname": a,
                "fingerprint": fp,
                "labels": json.loads(lbl),
                "occurrences": n,
                "resolved": r,
            }
            for a, fp, lbl, n, r in cur.fetchall()
        ]
    return out


def prune(conn: psycopg2.extensions.connection, keep_days: int) -> int:
    """Delete alerts (and their notifications and actions) that started over ``keep_days``
    ago; return how many alerts went."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM alert_history WHERE timestamp < now() - make_interval(days => %s)",
            (keep_days,),
        )
        deleted = int(cur.rowcount)
        cur.execute(
            "DELETE FROM digest d WHERE created_at < now() - make_interval(days => %s) "
            "AND NOT EXISTS (SELECT 1 FROM notification n WHERE n.digest_id = d.id)",
            (keep_days,),
        )
        cur.execute(
            "DELETE FROM daily_summary WHERE day < (now() - make_interval(days => %s))::date",
            (keep_days,),
        )
    return deleted


def watchdog_state(conn: psycopg2.extensions.connection) -> tuple[datetime, str] | None:
    """When the Watchdog last arrived and whether it was firing; None if it never came."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT last_seen, status FROM heartbeat WHERE name = 'watchdog'")
        row = cur.fetchone()
    return (row[0], row[1]) if row else None


def touch_dispatcher(conn: psycopg2.extensions.connection, name: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO heartbeat (name, last_seen) VALUES (%s, now())
               ON CONFLICT (name) DO UPDATE SET last_seen = now()""",
            (name,),
        )


def firing_occurrence(
    conn: psycopg2.extensions.connection, alertname: str
) -> tuple[datetime, dict[str, str], dict[str, str]] | None:
    """The firing occurrence of ``alertname`` (start, labels, annotations), if any."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT starts_at, labels, annotations FROM alert_history "
            "WHERE alertname = %s AND status = 'firing' ORDER BY starts_at DESC LIMIT 1",
            (alertname,),
        )
        row = cur.fetchone()
    return (row[0], row[1], row[2]) if row else None
