"""The alert view's timeline, built from what the store read (no database): every kind of
entry in order, the ends no attempt tells, the actions in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from receiver.store.alert_page import GraphSnapshot
from receiver.web.alert_timeline import action_detail, build

T0 = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _notification(
    kind: str, target: str, state: str, created: float, **extra: Any
) -> dict[str, Any]:
    return {
        "kind": kind, "target": target, "state": state, "created_at": _at(created),
        "next_attempt_at": _at(created), "sent_at": None, "digest_id": None,
        "digest_created_at": None, "digest_message_id": None, "last_error": None,
        "attempt_log": [], **extra,
    }  # fmt: skip


def _alert(**extra: Any) -> dict[str, Any]:
    return {
        "starts_at": T0, "received_at": _at(1), "ends_at": None, "receiver": "d76-p0",
        "episode": 1, "metadata": None, "notifications": [], "actions": [], "graph": None,
        **extra,
    }  # fmt: skip


def test_a_whole_lifecycle_in_order_with_the_ends_no_attempt_tells() -> None:
    alert = _alert(
        ends_at=_at(900),
        metadata={"maintenance": "upbit-weekly"},
        notifications=[
            _notification("firing", "telegram", "sent", 1, sent_at=_at(3), attempt_log=[
                {"at": _at(2), "outcome": "retry", "error": "telegram: 502 Bad Gateway",
                 "message_id": None, "duration_ms": 40},
                {"at": _at(3), "outcome": "sent", "error": None, "message_id": "101",
                 "duration_ms": 35},
            ]),
            # Over budget: folded when due (at 60), told by the digest sent at 120.
            _notification("firing", "slack_alerts", "digested", 1, next_attempt_at=_at(60),
                          digest_id=7, digest_created_at=_at(30), sent_at=_at(120),
                          digest_message_id="ts-1"),
            _notification("reminder", "telegram", "sent", 300, sent_at=_at(301), attempt_log=[
                {"at": _at(301), "outcome": "sent", "error": None, "message_id": "102",
                 "duration_ms": 20},
            ]),
            _notification("escalation", "telegram_escalation", "superseded", 890,
                          last_error="resolved before delivery"),
        ],
        actions=[
            {"action": "escalate", "actor": "escalation", "at": _at(890),
             "detail": {"to": ["telegram_escalation"], "mentions": ["@d76_lead"]}},
            {"action": "ack", "actor": "telegram:@alice", "at": _at(400),
             "detail": {"comment": "on it"}},
        ],
        graph=GraphSnapshot("done", None, "x > 1", "1", _at(20), 140, 2000, 300, 150),
    )  # fmt: skip
    entries = build(alert)
    assert [((e.at - T0).total_seconds(), e.event, e.detail, e.exact) for e in entries] == [
        (0, "fired", "startsAt", True),
        (0, "inside maintenance window", "upbit-weekly", True),
        (1, "received", "stored (receiver d76-p0)", True),
        (1, "firing → telegram: queued", "", True),
        (1, "firing → slack_alerts: queued", "", True),
        (2, "firing → telegram: retry", "telegram: 502 Bad Gateway (40 ms)", True),
        (3, "firing → telegram: sent", "message 101 (35 ms)", True),
        (20, "graph drawn", "in 140 ms", True),
        (60, "firing → slack_alerts: folded", "into digest #7", False),
        (120, "firing → slack_alerts: digested", "told by digest #7 (message ts-1)", True),
        (300, "reminder → telegram: queued", "escalation step: reminder", True),
        (301, "reminder → telegram: sent", "message 102 (20 ms)", True),
        (400, "ack", "by telegram:@alice “on it”", True),
        (890, "escalate", "by escalation to telegram_escalation calling @d76_lead", True),
        (890, "escalation → telegram_escalation: queued", "escalation step: escalated", True),
        (900, "resolved", "endsAt", True),
        (900, "escalation → telegram_escalation: superseded", "resolved before delivery", False),
    ]


def test_an_attempt_that_tells_the_end_has_no_second_entry() -> None:
    cancelled = _notification("reminder", "telegram", "cancelled", 5, attempt_log=[
        {"at": _at(6), "outcome": "cancelled", "error": "acknowledged", "message_id": None,
         "duration_ms": 0},
    ])  # fmt: skip
    events = [e.event for e in build(_alert(notifications=[cancelled]))]
    assert events == [
        "fired", "received", "reminder → telegram: queued", "reminder → telegram: cancelled"
    ]  # fmt: skip


def test_a_skipped_graph_and_a_refire_say_why() -> None:
    skipped = GraphSnapshot("skipped", "no data", None, None, _at(9), None, 0, None, None)
    entries = build(_alert(episode=2, graph=skipped))
    assert [(e.event, e.detail) for e in entries] == [
        ("fired", "startsAt"),
        ("received", "stored (receiver d76-p0; episode 2: it fired again after resolving)"),
        ("graph skipped", "no data"),
    ]


def test_every_action_reads_in_words() -> None:
    assert action_detail("silence", "telegram:@bob", {
        "silenceID": "s-1", "endsAt": "2026-11-28T22:31:14.5+00:00",
    }) == "by telegram:@bob until 2026-11-28 22:31:14 UTC (silence s-1)"  # fmt: skip
    assert (
        action_detail("mute", "slack:U1", {"silenceID": "s-2", "endsAt": "2026-11-29T21:00:00Z"})
        == "by slack:U1 until resolved (silence s-2)"
    )
    assert (
        action_detail("unsilence", "telegram:@bob", {"silenceIDs": ["s-1", "s-3"]})
        == "by telegram:@bob: silence s-1, s-3 expired"
    )
    assert (
        action_detail("unmute", "receiver", {"silenceID": "s-2", "why": "resolved"})
        == "by receiver (it resolved): silence s-2 expired"
    )
    assert action_detail("ack-expired", "escalation", {
        "acknowledged_by": "telegram:@alice", "acknowledged_at": "2026-11-28 21:31:04.12+00:00",
    }) == "by escalation (acknowledged by telegram:@alice at 2026-11-28 21:31:04 UTC)"  # fmt: skip
    assert action_detail("ack", "api:carol", {}) == "by api:carol"
    assert action_detail("later", "x", {"b": 1, "a": "é"}) == 'by x {"a": "é", "b": 1}'
