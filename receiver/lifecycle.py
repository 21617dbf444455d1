"""Every transition of the alert and notification lifecycle, as pure functions.

The store applies what these decide (each write guarded by the state it expects and, for a
claimed notification, by the claim's fencing token); the dispatcher only asks them. Nothing
here reads the clock, the database or the network, so each rule is tested on its own and the
stateful property test can check the whole against real PostgreSQL.

Alert occurrence (fingerprint, startsAt), one history row per episode::

    (none) --firing--> firing --resolved--> resolved --firing--> firing (episode + 1, new row)
    firing --firing (an Alertmanager repeat)--> nothing (reminders are the escalation timer's)

Escalation timer of a firing episode (one row per episode whose severity has a policy)::

    waiting --remind_at--> waiting (a reminder queued, the next one remind_every later)
    waiting --escalate_at--> waiting (the escalation queued, once)
    waiting --acknowledged--> acknowledged (resume_at = ack + ack_expires_after, or never)
    acknowledged --resume_at (the ack expired, still firing)--> waiting (unacknowledged, a
        reminder at once, escalation clock restarted)
    waiting|acknowledged --silenced (Silence, Mute)--> silenced (resume_at = the silence's end,
        or never: muted until resolved) --resume_at--> waiting (a reminder) or acknowledged
    waiting|acknowledged|silenced --resolved (webhook, or the mute poll)--> done

Notification::

    queued --claim--> sending --sent--> sent
    sending --transient error--> queued (the destination paused: backoff or retry_after)
    sending --permanent error / too old--> failed;  --no channel--> unsent
    sending --over budget, P1-P3--> folded --digest sent--> digested
    queued|folded --its alert resolved first--> superseded (the resolved tells both)
    sending --acknowledged, or a reminder after the resolve--> cancelled
    graph (the photo): queued behind its page when the graph is drawn; sending --its alert
        resolved, its page not delivered (or told in a digest), over budget, or any failure
        but a 429--> cancelled (the alert's page shows the graph; a photo never pauses its
        destination nor counts as a failed delivery); an acknowledgement does not cancel it
    sending --lease expired (dispatcher died)--> claimable again by another dispatcher
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from receiver.model import (
    AlertStatus,
    Claimed,
    EscalationState,
    EscalationTimer,
    Kind,
    Occurrence,
    State,
)

# --------------------------------------------------------------------------- alert arrivals


class Arrival(Enum):
    NEW = "new"  # first sight of the occurrence: store it, tell its status
    RESOLVE = "resolve"  # a firing occurrence resolved: tell it, supersede what is unsent
    REFIRE = "refire"  # a resolved occurrence fires again: a new episode, told as new
    WAKE = "wake"  # stored quietly inside a maintenance window, still firing after it: page
    IGNORE = "ignore"  # a duplicate, or a repeat: reminders are the escalation timer's


def arrival(
    current: Occurrence | None, status: str, ends_at: datetime | None, quiet: bool = False
) -> Arrival:
    """What an Alertmanager arrival of (fingerprint, startsAt) with ``status`` means;
    ``quiet``: it came through the maintenance receiver (store it, page nobody).

    Alertmanager's repeats of a firing alert (repeat_interval) change nothing: one mechanism
    reminds, the escalation timer in PostgreSQL (``escalation_due``), per alert and severity.
    """
    if current is None:
        return Arrival.NEW
    if current.status == AlertStatus.FIRING:
        if status == AlertStatus.RESOLVED:
            stale = (
                current.previous_ends_at is not None
                and ends_at is not None
                and ends_at <= current.previous_ends_at
            )
            # A late copy of the previous episode's resolve must not end this episode.
            return Arrival.IGNORE if stale else Arrival.RESOLVE
        # Stored quietly during a maintenance window and still firing after it: page now.
        return Arrival.WAKE if current.quiet and not quiet else Arrival.IGNORE
    if status == AlertStatus.FIRING:
        # When in doubt, page: a firing after a resolve is news, even if it is a restart's.
        return Arrival.REFIRE
    return Arrival.IGNORE


# --------------------------------------------------------------------------- escalation


def _later(now: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else now + timedelta(seconds=seconds)


def next_due(timer: EscalationTimer) -> datetime | None:
    """When the timer next needs a step (None: only an ack or a resolve moves it)."""
    if timer.state == EscalationState.WAITING:
        due = [t for t in (timer.remind_at, timer.escalate_at) if t is not None]
        return min(due) if due else None
    if timer.state in (EscalationState.ACKNOWLEDGED, EscalationState.SILENCED):
        return timer.resume_at
    return None


def escalation_start(
    remind_every: float | None, escalate_after: float | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """A new firing episode's first reminder and its escalation (remind_at, escalate_at)."""
    return _later(now, remind_every), _later(now, escalate_after)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    remind: bool  # queue a reminder to the timer's remind targets
    escalate: bool  # queue the escalation to its escalation targets (once per episode)
    ack_expired: bool  # the acknowledgement ran out: the alert is unacknowledged again
    timer: EscalationTimer  # the timer after the step (its ``step`` bumped)


def escalation_due(
    timer: EscalationTimer, now: datetime, *, firing: bool = True, acknowledged: bool = False
) -> EscalationStep | None:
    """What a due timer does at ``now`` (None: nothing is due). A dispatcher that was down
    for a while sends one reminder, not one per missed period. A timer whose alert resolved
    or was acknowledged behind its back (``firing``, ``acknowledged``) catches up instead."""
    due = next_due(timer)
    if due is None or now < due:
        return None
    if not firing:
        done = replace(timer, state=EscalationState.DONE, step=timer.step + 1)
        return EscalationStep(remind=False, escalate=False, ack_expired=False, timer=done)
    if timer.state == EscalationState.SILENCED:  # the silence ended, the alert still fires
        return _after_silence(timer, now, acknowledged)
    if acknowledged and timer.state == EscalationState.WAITING:
        paused = escalation_acknowledged(timer, now)
        assert paused is not None
        return EscalationStep(remind=False, escalate=False, ack_expired=False, timer=paused)
    if timer.state == EscalationState.ACKNOWLEDGED:
        return EscalationStep(
            remind=timer.remind_every is not None,
            escalate=False,
            ack_expired=True,
            timer=_resumed(timer, now),
        )
    remind = timer.remind_at is not None and now >= timer.remind_at
    escalate = timer.escalate_at is not None and now >= timer.escalate_at and not timer.escalated
    after = replace(
        timer,
        remind_at=_later(now, timer.remind_every) if remind else timer.remind_at,
        escalate_at=None if escalate else timer.escalate_at,
        escalated=timer.escalated or escalate,
        step=timer.step + 1,
    )
    return EscalationStep(remind=remind, escalate=escalate, ack_expired=False, timer=after)


def _after_silence(timer: EscalationTimer, now: datetime, acknowledged: bool) -> EscalationStep:
    if acknowledged:  # the ack holds on (and may still expire)
        paused = replace(
            timer,
            state=EscalationState.ACKNOWLEDGED,
            resume_at=_later(now, timer.ack_expires_after),
            step=timer.step + 1,
        )
        return EscalationStep(remind=False, escalate=False, ack_expired=False, timer=paused)
    remind = timer.remind_every is not None
    return EscalationStep(
        remind=remind, escalate=False, ack_expired=False, timer=_resumed(timer, now)
    )


def _resumed(timer: EscalationTimer, now: datetime) -> EscalationTimer:
    """The timer waiting again from ``now``: its clocks restarted (an escalation done stays
    done)."""
    remind_at, escalate_at = escalation_start(timer.remind_every, timer.escalate_after, now)
    return replace(
        timer,
        state=EscalationState.WAITING,
        remind_at=remind_at,
        escalate_at=None if timer.escalated else escalate_at,
        resume_at=None,
        step=timer.step + 1,
    )


def escalation_silenced(timer: EscalationTimer, until: datetime | None) -> EscalationTimer | None:
    """An Alertmanager silence pauses the timer until it ends (``until``; None: muted until
    resolved). A longer silence extends the pause; None: no change."""
    if timer.state == EscalationState.DONE:
        return None
    longer = timer.resume_at is not None and (until is None or until > timer.resume_at)
    if timer.state == EscalationState.SILENCED and not longer:
        return None
    return replace(timer, state=EscalationState.SILENCED, resume_at=until, step=timer.step + 1)


def escalation_unsilenced(timer: EscalationTimer, now: datetime) -> EscalationTimer | None:
    """The silence was lifted early (or a mute undone): the timer is due at once."""
    if timer.state != EscalationState.SILENCED:
        return None
    return replace(timer, resume_at=now, step=timer.step + 1)


def escalation_acknowledged(timer: EscalationTimer, now: datetime) -> EscalationTimer | None:
    """An ack pauses a waiting timer until the ack expires (or for good); None: no change."""
    if timer.state != EscalationState.WAITING:
        return None
    return replace(
        timer,
        state=EscalationState.ACKNOWLEDGED,
        resume_at=_later(now, timer.ack_expires_after),
        step=timer.step + 1,
    )


# --------------------------------------------------------------------------- the rate budget


class OverBudget(Enum):
    WAIT = "wait"  # keep it queued until a slot frees (a P0 is never folded)
    FOLD = "fold"  # tell it in the target's next digest
    DROP = "drop"  # not sent: a graph's photo (the alert's history page shows it)


def allowance(priority: int, kind: str, limit: int, p0_reserve: int) -> int:
    """How many sends in the window this message may find already used and still go.

    Only a P0 firing or reminder may use the slots reserved for P0: its resolved message,
    good news, must not take them before another P0's page.
    """
    if kind == Kind.GRAPH:  # a photo only while half the window is free: pages come first
        return (limit - p0_reserve) // 2
    if priority == 0 and kind != Kind.RESOLVED:
        return limit
    return limit - p0_reserve


def over_budget(priority: int, kind: str = Kind.FIRING) -> OverBudget:
    if kind == Kind.GRAPH:
        return OverBudget.DROP
    return OverBudget.WAIT if priority == 0 else OverBudget.FOLD


# --------------------------------------------------------------------------- worth sending


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    reason: str


def not_worth_sending(item: Claimed, now: datetime) -> Verdict | None:
    """Why a claimed notification must not be sent now (None: send it)."""
    if item.kind == Kind.FIRING and item.status == AlertStatus.RESOLVED:
        return Verdict(
            State.SUPERSEDED, "resolved before delivery: the resolved message tells both"
        )
    if item.kind == Kind.GRAPH:
        return _photo_not_worth_sending(item, now)
    if item.kind != Kind.RESOLVED and item.acknowledged:
        return Verdict(State.CANCELLED, "acknowledged before delivery")
    if item.kind in (Kind.REMINDER, Kind.ESCALATION) and item.status == AlertStatus.RESOLVED:
        return Verdict(State.CANCELLED, f"resolved before the {item.kind} went out")
    if item.give_up_at is not None and now >= item.give_up_at:
        return Verdict(State.FAILED, "gave up: not delivered while it was worth sending")
    return None


def _photo_not_worth_sending(item: Claimed, now: datetime) -> Verdict | None:
    """A graph's photo answers its page: not without the page, nor after the resolve. The
    person who acknowledged is still helped by it."""
    if item.status == AlertStatus.RESOLVED:
        return Verdict(State.CANCELLED, "resolved before the graph went out")
    if item.reply_to is None:
        return Verdict(
            State.CANCELLED, "its page is not there to reply to (not delivered, or in a digest)"
        )
    if item.give_up_at is not None and now >= item.give_up_at:
        return Verdict(State.CANCELLED, "too late for the graph: it is on the alert's page")
    if item.photo is None:
        return Verdict(State.CANCELLED, "the graph's picture is gone")
    return None


# --------------------------------------------------------------------------- after a failure


def photo_gives_up(*, transient: bool, retry_after: float | None) -> bool:
    """A graph's photo is not retried after a failure (the picture is on the alert's page):
    it must never pause its destination, whose pages come first, nor count as a failed
    delivery. Only a rate limit (a transient error with retry_after: 429) is waited out like
    any message's."""
    return not (transient and retry_after is not None)


@dataclass(frozen=True, slots=True)
class Retry:
    delay_seconds: float  # the notification and its whole destination wait this long
    throttled: bool  # the channel asked for the pause (429 retry_after)


def backoff_seconds(
    failures: int, base_seconds: float, max_seconds: float, rng: random.Random
) -> float:
    """Exponential backoff with jitter on the upper half: base·2^(n-1), capped."""
    ceiling = min(max_seconds, base_seconds * 2 ** max(0, failures - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def after_transient(
    destination_failures: int,
    retry_after: float | None,
    base_seconds: float,
    max_seconds: float,
    rng: random.Random,
) -> Retry:
    """A transient failure pauses the destination: for the channel's retry_after when it gave
    one (once, for every queued message), else for the destination's backoff. The seed's
    three retries are the first quick steps of that backoff, not the end of trying."""
    if retry_after is not None:
        return Retry(max(0.0, retry_after), throttled=True)
    return Retry(
        backoff_seconds(destination_failures + 1, base_seconds, max_seconds, rng), throttled=False
    )
