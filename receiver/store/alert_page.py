"""What the history page's alert view reads: one alert with its whole lifecycle in one
statement (its messages and every attempt, the actions, the escalation timer, the graph
snapshot's state), and the graph snapshot's PNG.

The lifecycle is one statement of correlated subqueries, each on its own index and in the
alert's month only (``alert_ts``), instead of one query per table. Times come back as UTC
``datetime``s, whether read from a column or from the JSON of a subquery. Nothing here writes;
the graph worker owns ``alert_graph`` (migration 0014).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from receiver.store.db import Connection
from receiver.store.history import ALERT_COLUMNS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_ESCALATION_COLUMNS = (
    "state", "next_at", "remind_at", "escalate_at", "resume_at", "escalated_at", "reminders",
    "ack_expiries", "remind_to", "escalate_to", "mentions",
)  # fmt: skip

_LIFECYCLE = f"""
SELECT {", ".join(f"a.{c}" for c in ALERT_COLUMNS)}, a.received_at, a.episode,
       (SELECT COALESCE(json_agg(json_build_object(
                   'id', n.id, 'kind', n.kind, 'target', n.target, 'state', n.state,
                   'attempts', n.attempts, 'sweeps', n.sweeps, 'created_at', n.created_at,
                   'next_attempt_at', n.next_attempt_at, 'sent_at', n.sent_at,
                   'message_id', n.message_id, 'last_error', n.last_error,
                   'digest_id', n.digest_id, 'digest_state', d.state,
                   'digest_created_at', d.created_at, 'digest_message_id', d.message_id,
                   'attempt_log', (
                       SELECT COALESCE(json_agg(json_build_object(
                                  'at', t.attempted_at, 'outcome', t.outcome,
                                  'duration_ms', t.duration_ms, 'message_id', t.message_id,
                                  'error', t.error) ORDER BY t.id), '[]')
                         FROM notification_attempt t
                        WHERE t.notification_id = n.id AND t.alert_ts = n.alert_ts)
               ) ORDER BY n.id), '[]')
          FROM notification n LEFT JOIN digest d ON d.id = n.digest_id
         WHERE n.alert_id = a.id AND n.alert_ts = a.timestamp) AS notifications,
       (SELECT COALESCE(json_agg(json_build_object(
                   'action', x.action, 'actor', x.actor, 'at', x.at, 'detail', x.detail)
                   ORDER BY x.at, x.id), '[]')
          FROM alert_action x
         WHERE x.alert_id = a.id AND x.alert_ts = a.timestamp) AS actions,
       e.alert_id IS NOT NULL, {", ".join(f"e.{c}" for c in _ESCALATION_COLUMNS)},
       g.state, g.note, g.expression, g.threshold, g.finished_at, g.render_ms,
       octet_length(g.png), substring(g.png FROM 1 FOR 24)
  FROM alert_history a
  LEFT JOIN escalation e ON e.alert_id = a.id
  LEFT JOIN alert_graph g ON g.alert_id = a.id
 WHERE a.id = %s
"""


@dataclass(frozen=True, slots=True)
class GraphSnapshot:
    """An alert's graph snapshot as the page shows it (the PNG itself is read apart)."""

    state: str  # pending, rendering, done, skipped (model.GraphState)
    note: str | None  # why it was skipped; what it shows
    expression: str | None
    threshold: str | None
    finished_at: datetime | None
    render_ms: int | None
    size: int  # bytes of PNG, 0 without one
    width: int | None  # from the PNG's header; None when it is not a PNG
    height: int | None

    @property
    def image(self) -> bool:
        """Whether there is a PNG to show."""
        return self.state == "done" and self.width is not None


def png_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's first 24 bytes (signature, IHDR); None if not a PNG."""
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return (width, height) if width and height else None


def utc(value: Any) -> datetime | None:
    """A time as an aware UTC datetime: a timestamptz column, or ISO 8601 text from JSON."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_NOTIFICATION_TIMES = (
    "created_at", "next_attempt_at", "sent_at", "digest_created_at",
)  # fmt: skip


def _notification(raw: dict[str, Any]) -> dict[str, Any]:
    found = dict(raw)
    for key in _NOTIFICATION_TIMES:
        found[key] = utc(found.get(key))
    found["attempt_log"] = [{**t, "at": utc(t["at"])} for t in raw.get("attempt_log") or []]
    return found


def lifecycle(conn: Connection, alert_id: int) -> dict[str, Any] | None:
    """The alert (``ALERT_COLUMNS`` with ``received_at`` and ``episode``), its
    ``notifications`` in order, each with its ``attempt_log``, its ``actions`` in order, its
    ``escalation`` timer (None without one) and its ``graph`` (a ``GraphSnapshot``, None
    without one); None if there is no such alert. One statement."""
    with conn, conn.cursor() as cur:
        cur.execute(_LIFECYCLE, (alert_id,))
        row = cur.fetchone()
    if row is None:
        return None
    values = list(row)
    alert: dict[str, Any] = dict(zip(ALERT_COLUMNS, values[: len(ALERT_COLUMNS)], strict=True))
    rest = values[len(ALERT_COLUMNS) :]
    received_at, episode, notifications, actions, has_timer = rest[:5]
    timer = rest[5 : 5 + len(_ESCALATION_COLUMNS)]
    graph = rest[5 + len(_ESCALATION_COLUMNS) :]
    for key in ("timestamp", "acknowledged_at", "starts_at", "ends_at"):
        alert[key] = utc(alert[key])
    alert["received_at"] = utc(received_at)
    alert["episode"] = episode
    alert["notifications"] = [_notification(n) for n in notifications]
    alert["actions"] = [{**x, "at": utc(x["at"])} for x in actions]
    escalation = dict(zip(_ESCALATION_COLUMNS, timer, strict=True)) if has_timer else None
    if escalation is not None:
        for key in ("next_at", "remind_at", "escalate_at", "resume_at", "escalated_at"):
            escalation[key] = utc(escalation[key])
    alert["escalation"] = escalation
    state, note, expression, threshold, finished_at, render_ms, size, head = graph
    alert["graph"] = None
    if state is not None:
        dimensions = png_size(bytes(head)) if head is not None else None
        alert["graph"] = GraphSnapshot(
            state=state,
            note=note,
            expression=expression,
            threshold=threshold,
            finished_at=utc(finished_at),
            render_ms=render_ms,
            size=int(size or 0),
            width=dimensions[0] if dimensions else None,
            height=dimensions[1] if dimensions else None,
        )
    return alert


def graph_png(conn: Connection, alert_id: int) -> bytes | None:
    """The alert's graph snapshot as PNG bytes; None until it is drawn, when it was skipped,
    or when what is stored is not a PNG."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT png FROM alert_graph WHERE alert_id = %s AND state = 'done'", (alert_id,)
        )
        row = cur.fetchone()
    if row is None or row[0] is None:
        return None
    png = bytes(row[0])
    return png if png_size(png[:24]) is not None else None
