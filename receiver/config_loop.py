"""Settings of the operator's loop: the escalation policy, "mute until resolved", the named
Telegram chats (and forum topics), and the routing table that sends an alert to them.

``receiver.config`` assembles them into ``Settings``; ``route`` and ``escalation_rules`` are
the pure functions the receiver applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, model_validator

from d76config import StrictSettings
from receiver import model

if TYPE_CHECKING:
    from receiver.config import Dispatcher

CHAT_NAME = r"^[a-z0-9]{1,32}$"  # a named chat is the target telegram_<name>
NAMED_CHAT_TARGET = re.compile(r"^telegram_[a-z0-9]{1,32}$")
ROUTE_LABELS = ("severity", "source", "exchange")  # what a routing rule may match on


def _known_targets(name: str, targets: Sequence[str]) -> None:
    """Built-in targets, or telegram_<chat> (its chat is checked against telegram.chats)."""
    for target in targets:
        if target not in model.TARGETS and not NAMED_CHAT_TARGET.match(target):
            raise ValueError(
                f"{name}: unknown target {target!r} (known: {', '.join(model.TARGETS)}, "
                "or telegram_<a chat of telegram.chats>)"
            )


# -- named chats and the routing table --------------------------------------------------------


class TelegramChat(StrictSettings):
    chat_id: str = Field(pattern=r"^-?[0-9]{1,20}$")  # not a secret: a group's id
    topic: int | None = Field(None, ge=1)  # a forum topic (message_thread_id)
    allowed_user_ids: list[int] | None = None  # who may press and command here (None: global)


class RouteRule(StrictSettings):
    """``match`` (labels severity, source, exchange: all must equal) -> where the alert's
    ``telegram`` target goes (a chat of telegram.chats, or "default") and its Slack target."""

    match: dict[str, str]
    telegram: str | None = None
    slack: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> RouteRule:
        if not self.match or set(self.match) - set(ROUTE_LABELS):
            raise ValueError(f"match: one or more of the labels {', '.join(ROUTE_LABELS)}")
        if self.slack is not None and model.channel_kind(self.slack) != "slack":
            raise ValueError(f"slack: {self.slack!r} is not a Slack target (slack_critical, …)")
        if self.slack is not None:
            _known_targets("slack", [self.slack])
        if self.telegram is None and self.slack is None:
            raise ValueError("a rule says where: telegram, slack or both")
        return self


def route(
    targets: Sequence[str], labels: Mapping[str, str], table: Sequence[RouteRule]
) -> list[str]:
    """The alert's targets: the receiver's, with its main Telegram chat and its Slack channel
    replaced as the first matching rule says (none matching: unchanged)."""
    for rule in table:
        if all(labels.get(k) == v for k, v in rule.match.items()):
            routed = []
            for target in targets:
                if target == "telegram" and rule.telegram not in (None, "default"):
                    target = f"telegram_{rule.telegram}"
                elif model.channel_kind(target) == "slack" and rule.slack is not None:
                    target = rule.slack
                if target not in routed:
                    routed.append(target)
            return routed
    return list(targets)


def router(
    table: Sequence[RouteRule],
) -> Callable[[Sequence[str], Mapping[str, str]], list[str]] | None:
    """``route`` over ``table`` as ingest takes it (None: no table, the receiver's targets)."""
    if not table:
        return None
    rules = tuple(table)
    return lambda targets, labels: route(targets, labels, rules)


# -- the escalation policy and mute -----------------------------------------------------------

# A name to call on in an escalation: a Telegram @username, or a Slack member id (U…/W…).
MENTION_PATTERN = r"^(@[A-Za-z0-9_]{3,32}|[UW][A-Z0-9]{6,20})$"


class EscalationLevel(StrictSettings):
    """One severity's policy (minutes may be fractions: tests play it in seconds)."""

    remind_every_minutes: float | None = Field(None, gt=0)  # absent: no reminders
    escalate_after_minutes: float | None = Field(None, gt=0)  # absent: no escalation
    escalate_to: list[str] = Field(default_factory=list)
    mention: list[Annotated[str, Field(pattern=MENTION_PATTERN)]] = Field(default_factory=list)
    ack_expires_minutes: float | None = Field(None, gt=0)  # absent: an ack holds until resolved

    @model_validator(mode="after")
    def _targets_known(self) -> EscalationLevel:
        _known_targets("escalate_to", self.escalate_to)
        if self.escalate_after_minutes is not None and not self.escalate_to:
            raise ValueError("escalate_after_minutes needs escalate_to (where to escalate)")
        return self


class Escalation(StrictSettings):
    """While an alert fires unacknowledged: remind, then escalate (timers in PostgreSQL)."""

    check_seconds: float = Field(2, gt=0, le=60)  # how often a dispatcher looks for due steps
    remind_targets: list[str] = Field(default_factory=lambda: ["telegram"])
    P0: EscalationLevel | None = EscalationLevel(remind_every_minutes=5)
    P1: EscalationLevel | None = EscalationLevel(remind_every_minutes=30)
    P2: EscalationLevel | None = None
    P3: EscalationLevel | None = None

    @model_validator(mode="after")
    def _targets_known(self) -> Escalation:
        _known_targets("remind_targets", self.remind_targets)
        return self

    def levels(self) -> list[EscalationLevel]:
        return [level for level in (self.P0, self.P1, self.P2, self.P3) if level is not None]


class Mute(StrictSettings):
    """ "Mute until resolved": how long the silence lasts at most, and the resolve poll."""

    max_days: float = Field(30, gt=0, le=365)  # the silence's own end, if the receiver fails
    check_seconds: float = Field(15, gt=0, le=300)  # how often Alertmanager is asked
    # Missing from Alertmanager this long means resolved (an Alertmanager restart forgets its
    # alerts until Prometheus sends them again, within its resend delay of 1 min).
    resolve_grace_seconds: float = Field(90, ge=0)
    batch: int = Field(200, ge=1, le=5000)  # mutes looked at per check


def escalation_rules(e: Escalation, d: Dispatcher) -> dict[str, model.EscalationRule]:
    """Each severity's policy in seconds. The old ``dispatcher.remind_after_minutes`` and
    ``remind_targets`` (Alertmanager-driven reminders), when a file still sets them, fill
    what ``escalation`` leaves unset: one mechanism, the names kept."""
    legacy = d.remind_after_minutes if "remind_after_minutes" in d.model_fields_set else {}
    remind_to = e.remind_targets
    if "remind_targets" in d.model_fields_set and "remind_targets" not in e.model_fields_set:
        remind_to = d.remind_targets
    rules: dict[str, model.EscalationRule] = {}
    for name in ("P0", "P1", "P2", "P3"):
        level: EscalationLevel | None = getattr(e, name)
        set_here = name in e.model_fields_set
        every = level.remind_every_minutes if level else None
        if name in legacy and (not set_here or every is None):
            every = legacy[name]
        if level is None and every is None:
            continue

        def seconds(minutes: float | None) -> float | None:
            return None if minutes is None else minutes * 60

        rule = model.EscalationRule(
            remind_every=seconds(every),
            escalate_after=seconds(level.escalate_after_minutes if level else None),
            ack_expires_after=seconds(level.ack_expires_minutes if level else None),
            remind_to=tuple(remind_to),
            escalate_to=tuple(level.escalate_to if level else ()),
            mentions=tuple(level.mention if level else ()),
        )
        if rule.active:
            rules[name] = rule
    return rules
