"""The history: alerts queried, acknowledged and pruned (the API, page and CLI)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg2.extras

from receiver.model import Action, Claimed
from receiver.query_params import HistoryFilter
from receiver.store import escalation, escalation_views, partitions
from receiver.store.db import Connection

# An action is kept in its alert's month (alert_ts, migration 0011); no alert, no action.
_ACTION = """INSERT INTO alert_action (alert_id, alert_ts, action, actor, detail)
             SELECT a.id, a.timestamp, %s, %s, %s FROM alert_history a WHERE a.id = %s"""


def acknowledge(conn: Connection, alert_id: int, actor: str, comment: str | None = None) -> bool:
    """Mark the alert acknowledged (idempotent); False if there is no such alert."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE alert_history
                  SET acknowledged = TRUE, acknowledged_at = d76_now(), acknowledged_by = %s,
                      updated_at = d76_now()
                WHERE id = %s AND NOT acknowledged""",
            (actor, alert_id),
        )
        if cur.rowcount:
            cur.execute(
                _ACTION,
                ("ack", actor, json.dumps({"comment": comment} if comment else {}), alert_id),
            )
            escalation.acknowledged(cur, [alert_id])
            return True
        cur.execute("SELECT 1 FROM alert_history WHERE id = %s", (alert_id,))
        return cur.fetchone() is not None


def record_action(
    conn: Connection,
    alert_id: int,
    action: str,
    actor: str,
    detail: dict[str, Any],
) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(_ACTION, (action, actor, json.dumps(detail), alert_id))


def alert_view(conn: Connection, alert_id: int) -> Claimed | None:
    """The alert as its firing message shows it (for editing that message)."""
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            """SELECT 0 AS id, 'firing' AS kind, 'telegram' AS target, 0 AS priority,
                      0 AS attempts, NULL AS reply_to, id AS alert_id, severity, source,
                      alertname, title, message, status, starts_at, ends_at, labels,
                      annotations, generator_url, acknowledged, episode
                 FROM alert_history WHERE id = %s""",
            (alert_id,),
        )
        row = cur.fetchone()
    return Claimed.from_row(row) if row else None


def fired_again(conn: Connection, alert_id: int) -> bool:
    """Whether a later episode of this alert's occurrence is firing (a re-fire's new row)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT EXISTS (SELECT 1 FROM alert_history a JOIN alert_history b
                                  ON b.fingerprint = a.fingerprint AND b.starts_at = a.starts_at
                               WHERE a.id = %s AND b.episode > a.episode
                                 AND b.status = 'firing')""",
            (alert_id,),
        )
        row = cur.fetchone()
    return bool(row and row[0])


def actions_for(conn: Connection, alert_id: int) -> list[Action]:
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT action, actor, at, detail FROM alert_action WHERE alert_id = %s "
            "ORDER BY at, id",
            (alert_id,),
        )
        return [Action(*row) for row in cur.fetchall()]


ALERT_COLUMNS = (
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


def filter_sql(f: HistoryFilter) -> tuple[str, dict[str, Any]]:
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
    return dict(zip(ALERT_COLUMNS, row, strict=True))


def list_alerts(
    conn: Connection,
    f: HistoryFilter,
    limit: int,
    after: tuple[datetime, int] | None,
) -> tuple[list[dict[str, Any]], bool]:
    """Alerts matching ``f``, newest first (timestamp, id), after the keyset ``after``;
    returns the page and whether more follow."""
    where, params = filter_sql(f)
    if after is not None:
        where += " AND (timestamp, id) < (%(after_ts)s, %(after_id)s)"
        params.update(after_ts=after[0], after_id=after[1])
    params["limit"] = limit + 1
    with conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM alert_history WHERE {where} "
            "ORDER BY timestamp DESC, id DESC LIMIT %(limit)s",
            params,
        )
        rows = cur.fetchall()
    return [_alert_dict(r) for r in rows[:limit]], len(rows) > limit


def alert_detail(conn: Connection, alert_id: int) -> dict[str, Any] | None:
    """One alert with its whole lifecycle: notifications and every attempt, actions."""
    with conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM alert_history WHERE id = %s", (alert_id,)
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
                 FROM notification n
                 LEFT JOIN notification_attempt a
                        ON a.notification_id = n.id AND a.alert_ts = n.alert_ts
                WHERE n.alert_id = %s GROUP BY n.id, n.alert_ts ORDER BY n.id""",
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
        alert["escalation"] = escalation_views.timer_detail(cur, alert_id)
    return alert


def acknowledge_matching(
    conn: Connection, f: HistoryFilter, actor: str, comment: str | None
) -> int:
    """Acknowledge every unacknowledged alert matching ``f``; return how many."""
    where, params = filter_sql(f)
    params.update(actor=actor, detail=json.dumps({"comment": comment} if comment else {}))
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""WITH acked AS (
                   UPDATE alert_history SET acknowledged = TRUE, acknowledged_at = d76_now(),
                          acknowledged_by = %(actor)s, updated_at = d76_now()
                    WHERE {where} AND NOT acknowledged
                RETURNING id, timestamp)
                INSERT INTO alert_action (alert_id, alert_ts, action, actor, detail)
                SELECT id, timestamp, 'ack', %(actor)s, %(detail)s FROM acked RETURNING alert_id""",
            params,
        )
        acked = [int(row[0]) for row in cur.fetchall()]
        escalation.acknowledged(cur, acked)
        return len(acked)


def prune(conn: Connection, keep_days: int) -> partitions.Pruned:
    """Remove alerts (and their notifications, attempts and actions) that started over
    ``keep_days`` ago: whole months dropped, the rest deleted (``store.partitions``)."""
    pruned = partitions.prune(conn, keep_days)
    with conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM digest d WHERE created_at < now() - make_interval(days => %s) "
            "AND NOT EXISTS (SELECT 1 FROM notification n WHERE n.digest_id = d.id)",
            (keep_days,),
        )
        cur.execute(
            "DELETE FROM daily_summary WHERE day < (now() - make_interval(days => %s))::date",
            (keep_days,),
        )
        # The operator's loop: timers and mutes go with their alert's month; chat windows
        # once they ended before the cut-off.
        for table, key in (("escalation", "alert_ts"), ("mute", "alert_ts"),
                           ("maintenance_window", "ends_at")):  # fmt: skip
            cur.execute(
                f"DELETE FROM {table} WHERE {key} < now() - make_interval(days => %s)",
                (keep_days,),
            )
    return pruned
