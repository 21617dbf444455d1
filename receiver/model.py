"""The receiver's vocabulary: the states of an alert and of a notification, and the records
the store hands to the dispatcher. Declared once; the transitions between these states are
the pure functions of ``receiver.lifecycle``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Kind(StrEnum):
    """What a notification tells."""

    FIRING = "firing"  # the alert fired (with Ack/Silence buttons on Telegram)
    RESOLVED = "resolved"  # it resolved; "fired and resolved" when the firing never went out
    REMINDER = "reminder"  # it still fires and nobody acknowledged it (the escalation timer)
    ESCALATION = "escalation"  # unacknowledged too long: told to a further target, mentioning
    GRAPH = "graph"  # the graph snapshot: a photo replying to the firing message (Telegram)


class State(StrEnum):
    """Where one notification (one message to one target) stands."""

    QUEUED = "queued"  # waiting for its time, its turn, its destination or the budget
    SENDING = "sending"  # claimed by one dispatcher under a lease
    FOLDED = "folded"  # over budget: waits in its target's pending digest
    SENT = "sent"  # delivered
    DIGESTED = "digested"  # told by a delivered digest
    SUPERSEDED = "superseded"  # never sent: a later message of the same alert tells it
    CANCELLED = "cancelled"  # no longer worth sending (acknowledged, or a reminder too late)
    FAILED = "failed"  # gave up: a permanent error, or too old to be worth sending
    UNSENT = "unsent"  # the channel is not configured: logged and recorded only

    @property
    def final(self) -> bool:
        return self not in (State.QUEUED, State.SENDING, State.FOLDED)


class GraphState(StrEnum):
    """Where one alert episode's graph snapshot stands (``alert_graph`` table)."""

    PENDING = "pending"  # waiting for the graph worker
    RENDERING = "rendering"  # claimed under a lease: querying Prometheus, drawing
    DONE = "done"  # the PNG is stored (and its photo queued where the page went)
    SKIPPED = "skipped"  # no graph: the note says why (Prometheus slow or down, no data)


class DigestState(StrEnum):
    PENDING = "pending"  # collecting folded notifications, waiting for a free slot
    SENDING = "sending"  # claimed under a lease
    SENT = "sent"
    FAILED = "failed"  # only rows from before the lifecycle; a failed send returns to pending


@dataclass(frozen=True, slots=True)
class Severity:
    """One severity and how every channel and page shows it."""

    name: str
    priority: int  # the dispatcher sends a lower number first
    emoji: str  # at the head of a message
    colour: str  # Slack's bar, the email heading, the page's badge and chart


# The one table of severities, most urgent first. ``none`` is the Watchdog's (never paged).
SEVERITIES: dict[str, Severity] = {
    s.name: s
    for s in (
        Severity("P0", 0, "🔴", "#D00000"),
        Severity("P1", 1, "🟠", "#F57C00"),
        Severity("P2", 2, "⚠️", "#C49000"),
        Severity("P3", 3, "ℹ️", "#1E88E5"),
        Severity("none", 9, "🔔", "#9E9E9E"),
    )
}
UNKNOWN_SEVERITY = Severity("unknown", 9, "🔔", "#9E9E9E")  # a label outside the table
RESOLVED_EMOJI, RESOLVED_COLOUR = "✅", "#2E7D32"
REMINDER_EMOJI = "🔁"
ESCALATION_EMOJI = "📣"


def severity(name: str) -> Severity:
    return SEVERITIES.get(name, UNKNOWN_SEVERITY)


def priority_of(severity_name: str) -> int:
    return severity(severity_name).priority


# Where a notification can go. A target's channel kind is its name up to the first "_"
# (slack_critical and slack_alerts are both Slack). ``receiver.channels.registry`` holds how
# each kind is built and what its messages look like.
TARGETS = ("telegram", "telegram_escalation", "slack_critical", "slack_alerts", "email")


def channel_kind(target: str) -> str:
    return target.split("_", 1)[0]


@dataclass(frozen=True, slots=True)
class Link:
    """One link under an alert's message (``receiver.links`` builds them)."""

    label: str  # "History", "Runbook", "Graph", "New silence"
    url: str  # absolute http(s) and percent-encoded: safe in any markup once escaped for it
    key: str  # a stable name per kind of link ("history", ...: Slack's action_id)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A notification claimed for delivery, with the alert it is about."""

    id: int
    kind: str
    target: str
    priority: int
    attempts: int
    reply_to: str | None  # message id of the firing message (or its digest), for a reply
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
    acknowledged: bool = False
    claim_token: int = 0  # fencing: only the holder of this token may record the outcome
    episode: int = 1
    created_at: datetime | None = None
    give_up_at: datetime | None = None
    claimed_at: datetime | None = None  # the database's time when it was claimed
    firing_told: bool = True  # its firing was delivered (sent, or told by a digest)
    mentions: tuple[str, ...] | list[str] = ()  # an escalation's people to call on
    photo: bytes | None = None  # a graph notification's PNG (alert_graph)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Claimed:
        return cls(**{name: row[name] for name in cls.__slots__ if name in row})

    @property
    def fired_and_resolved(self) -> bool:
        """A resolved message whose firing was never delivered: it tells both."""
        return self.kind == Kind.RESOLVED and not self.firing_told


@dataclass(frozen=True, slots=True)
class Occurrence:
    """The newest episode of one alert occurrence (fingerprint, startsAt), as ingest sees it."""

    id: int
    fingerprint: str
    starts_at: datetime
    episode: int
    severity: str
    status: str
    acknowledged: bool
    ends_at: datetime | None
    previous_ends_at: datetime | None  # when the episode before this one resolved
    quiet: bool = False  # stored through the maintenance receiver: nobody was paged yet


@dataclass(frozen=True, slots=True)
class Digest:
    id: int
    target: str
    folded: int
    summary: list[dict[str, Any]]  # alertname, severity, kind, count; most frequent first
    claim_token: int = 0
    reply_to: str | None = None
    # When the alerts it tells started, first and last (its History link's range).
    first_start: datetime | None = None
    last_start: datetime | None = None


@dataclass(frozen=True, slots=True)
class Action:
    """What someone did about an alert: ``ack`` or ``silence``, by whom, when."""

    action: str
    actor: str
    at: datetime
    detail: dict[str, Any]


class EscalationState(StrEnum):
    """Where one alert episode's escalation timer stands (``escalation`` table)."""

    WAITING = "waiting"  # firing, unacknowledged: the next reminder or escalation is due at next_at
    ACKNOWLEDGED = "acknowledged"  # paused by an ack; resumes at resume_at if the ack expires
    SILENCED = "silenced"  # an Alertmanager silence: resumes at resume_at (its end); muted
    #                        until resolved when resume_at is empty
    DONE = "done"  # the alert resolved: nothing more (final)


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """One severity's escalation policy, in seconds (None: that step is off)."""

    remind_every: float | None = None  # remind this often while firing and unacknowledged
    escalate_after: float | None = None  # unacknowledged this long: tell ``escalate_to``
    ack_expires_after: float | None = None  # an ack not followed by a resolve expires
    remind_to: tuple[str, ...] = ()  # reminders go here (Telegram: a reply to the page)
    escalate_to: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()  # named people the escalation calls on

    @property
    def active(self) -> bool:
        reminds = self.remind_every is not None and bool(self.remind_to)
        escalates = self.escalate_after is not None and bool(self.escalate_to)
        return reminds or escalates


@dataclass(frozen=True, slots=True)
class EscalationTimer:
    """One episode's escalation timer, as the store hands it to ``lifecycle.escalation_due``."""

    alert_id: int
    state: EscalationState
    remind_every: float | None
    escalate_after: float | None
    ack_expires_after: float | None
    remind_at: datetime | None  # the next reminder (while waiting)
    escalate_at: datetime | None  # the escalation (while waiting, until it happened)
    resume_at: datetime | None  # the ack's expiry (while acknowledged)
    escalated: bool
    step: int  # bumped by every write: a decision on an older step changes nothing


class MuteState(StrEnum):
    """A "mute until resolved": an Alertmanager silence the receiver expires at the resolve."""

    ACTIVE = "active"  # the silence holds; the dispatcher polls Alertmanager for the resolve
    EXPIRING = "expiring"  # the alert resolved: the silence is to be expired (retried)
    EXPIRED = "expired"  # done
    FAILED = "failed"  # Alertmanager kept refusing: the silence ends at its own endsAt
