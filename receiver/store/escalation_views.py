"""The escalation timers as /metrics and the lifecycle API read them (``escalation`` writes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg2.extensions

STEPS = ("reminder", "escalation", "ack-expired")
STATES = ("waiting", "acknowledged", "silenced")  # the states that are not final


def totals(cur: psycopg2.extensions.cursor) -> dict[str, int]:
    """Steps taken in total, by step (for /metrics)."""
    cur.execute("SELECT step, total FROM escalation_total")
    return {str(step): int(total) for step, total in cur.fetchall()}


def timers_by_state(cur: psycopg2.extensions.cursor) -> Mapping[str, int]:
    """Timers not done, by state (for /metrics: through the due index, not the history)."""
    cur.execute("SELECT state, count(*) FROM escalation WHERE state <> 'done' GROUP BY 1")
    return {str(state): int(count) for state, count in cur.fetchall()}


def timer_detail(cur: psycopg2.extensions.cursor, alert_id: int) -> dict[str, Any] | None:
    """An alert's timer, for its lifecycle (API and page); None when its severity has none."""
    cur.execute(
        """SELECT state, next_at, remind_at, escalate_at, resume_at, escalated_at, reminders,
                  ack_expiries, remind_to, escalate_to, mentions
             FROM escalation WHERE alert_id = %s""",
        (alert_id,),
    )
    row = cur.fetchone()
    names = (
        "state", "next_at", "remind_at", "escalate_at", "resume_at", "escalated_at", "reminders",
        "ack_expiries", "remind_to", "escalate_to", "mentions",
    )  # fmt: skip
    return dict(zip(names, row, strict=True)) if row else None
