"""Every transition of the alert and notification lifecycle, as pure functions.

The store applies what these decide (each write guarded by the state it expects and, for a
claimed notification, by the claim's fencing token); the dispatcher only asks them. Nothing
here reads the clock, the database or the network, so each rule is tested on its own and the
stateful property test can check the whole against real PostgreSQL.

Alert occurrence (fingerprint, startsAt), one history row per episode::

    (none) --firing--> firing --resolved--> resolved --firing--> firing (episode + 1, new row)
    firing --firing (an Alertmanager repeat, unacknowledged, not told lately)--> reminder

Notification::

    queued --claim--> sending --sent--> sent
    sending --transient error--> queued (the destination paused: backoff or retry_after)
    sending --permanent error / too old--> failed;  --no channel--> unsent
    sending --over budget, P1-P3--> folded --digest sent--> digested
    queued|folded --its alert resolved first--> superseded (the resolved tells both)
    sending --acknowledged, or a reminder after the resolve--> cancelled
    sending --lease expired (dispatcher died)--> claimable again by another dispatcher
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from receiver.model import AlertStatus, Claimed, Kind, Occurrence, State

# --------------------------------------------------------------------------- alert arrivals


class Arrival(Enum):
    NEW = "new"  # first sight of the occurrence: store it, tell its status
    RESOLVE = "resolve"  # a firing occurrence resolved: tell it, supersede what is unsent
    REFIRE = "refire"  # a resolved occurrence fires again: a new episode, told as new
    REMIND = "remind"  # still firing, unacknowledged, not told for a while: remind
    IGNORE = "ignore"  # a duplicate or a repeat that needs no message


def arrival(
    current: Occurrence | None,
    status: str,
    ends_at: datetime | None,
    now: datetime | None,
    remind_after_seconds: float | None,
) -> Arrival:
    """What an Alertmanager arrival of (fingerprint, startsAt) with ``status`` means (``now``,
    the database's time, is read with ``current`` and is None only when ``current`` is)."""
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
        reminder_due = (
            remind_after_seconds is not None
            and not current.acknowledged
            and not current.undelivered
            and current.last_told_at is not None
            and now is not None
            and (now - current.last_told_at).total_seconds() >= remind_after_seconds
        )
        return Arrival.REMIND if reminder_due else Arrival.IGNORE
    if status == AlertStatus.FIRING:
        # When in doubt, page: a firing after a resolve is news, even if it is a restart's.
        return Arrival.REFIRE
    return Arrival.IGNORE


# --------------------------------------------------------------------------- the rate budget


class OverBudget(Enum):
    WAIT = "wait"  # keep it queued until a slot frees (a P0 is never folded)
    FOLD = "fold"  # tell it in the target's next digest


def allowance(priority: int, kind: str, limit: int, p0_reserve: int) -> int:
    """How many sends in the window this message may find already used and still go.

    Only a P0 firing or reminder may use the slots reserved for P0: its resolved message,
    good news, must not take them before another P0's page.
    """
    if priority == 0 and kind != Kind.RESOLVED:
        return limit
    return limit - p0_reserve


def over_budget(priority: int) -> OverBudget:
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
    if item.kind != Kind.RESOLVED and item.acknowledged:
        return Verdict(State.CANCELLED, "acknowledged before delivery")
    if item.kind == Kind.REMINDER and item.status == AlertStatus.RESOLVED:
        return Verdict(State.CANCELLED, "resolved before the reminder went out")
    if item.give_up_at is not None and now >= item.give_up_at:
        return Verdict(State.FAILED, "gave up: not delivered while it was worth sending")
    return None


# --------------------------------------------------------------------------- after a failure


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
