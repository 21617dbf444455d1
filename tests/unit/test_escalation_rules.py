"""The escalation policy's pure rules and its settings: no services needed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from d76config import ConfigError, validate_section
from receiver import config
from receiver.lifecycle import (
    escalation_acknowledged,
    escalation_due,
    escalation_silenced,
    escalation_start,
    escalation_unsilenced,
    next_due,
)
from receiver.model import EscalationRule, EscalationState, EscalationTimer

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _timer(
    every: float | None = 300, after: float | None = 900, expires: float | None = None
) -> EscalationTimer:
    remind_at, escalate_at = escalation_start(every, after, T0)
    return EscalationTimer(
        1, EscalationState.WAITING, every, after, expires, remind_at, escalate_at, None, False, 0
    )


def test_a_waiting_timer_reminds_every_period_and_escalates_once() -> None:
    timer = _timer()
    assert next_due(timer) == T0 + 5 * MIN
    assert escalation_due(timer, T0 + 4 * MIN) is None
    first = escalation_due(timer, T0 + 5 * MIN)
    assert first is not None and first.remind and not first.escalate
    assert first.timer.remind_at == T0 + 10 * MIN and first.timer.step == 1
    second = escalation_due(first.timer, T0 + 10 * MIN)
    assert second is not None
    step = escalation_due(second.timer, T0 + 15 * MIN)
    assert step is not None
    timer = step.timer
    assert step.remind and step.escalate  # at 15 min: the third reminder and the escalation
    assert timer.escalated and timer.escalate_at is None
    assert next_due(timer) == T0 + 20 * MIN
    later = escalation_due(timer, T0 + 20 * MIN)
    assert later is not None and later.remind and not later.escalate  # escalated once only


def test_a_dispatcher_back_after_an_outage_reminds_once_not_once_per_missed_period() -> None:
    step = escalation_due(_timer(after=None), T0 + 60 * MIN)
    assert step is not None and step.remind
    assert step.timer.remind_at == T0 + 65 * MIN


def test_an_ack_pauses_and_an_expired_ack_resumes_with_a_reminder() -> None:
    timer = _timer(expires=1800)
    paused = escalation_acknowledged(timer, T0 + 2 * MIN)
    assert paused is not None and paused.state is EscalationState.ACKNOWLEDGED
    assert next_due(paused) == T0 + 32 * MIN
    assert escalation_due(paused, T0 + 20 * MIN) is None  # no reminder, no escalation meanwhile
    resumed = escalation_due(paused, T0 + 32 * MIN)
    assert resumed is not None and resumed.ack_expired and resumed.remind
    assert resumed.timer.state is EscalationState.WAITING
    assert resumed.timer.remind_at == T0 + 37 * MIN
    assert resumed.timer.escalate_at == T0 + 47 * MIN  # the escalation clock starts again
    assert escalation_acknowledged(paused, T0 + 3 * MIN) is None  # a second ack: no change


def test_an_ack_without_expiry_holds_until_the_resolve() -> None:
    paused = escalation_acknowledged(_timer(), T0)
    assert paused is not None and next_due(paused) is None
    assert escalation_due(paused, T0 + 600 * MIN) is None


def test_a_resolved_or_acknowledged_alert_stops_or_pauses_its_due_timer() -> None:
    done = escalation_due(_timer(), T0 + 5 * MIN, firing=False)
    assert done is not None and done.timer.state is EscalationState.DONE
    assert not (done.remind or done.escalate) and next_due(done.timer) is None
    paused = escalation_due(_timer(), T0 + 5 * MIN, acknowledged=True)
    assert paused is not None and paused.timer.state is EscalationState.ACKNOWLEDGED
    assert not paused.remind


def test_reminders_off_escalation_only() -> None:
    timer = _timer(every=None, after=60)
    assert next_due(timer) == T0 + MIN
    step = escalation_due(timer, T0 + MIN)
    assert step is not None and step.escalate and not step.remind
    assert next_due(step.timer) is None  # nothing more until an ack or the resolve
    assert replace(step.timer, state=EscalationState.DONE).state is EscalationState.DONE


# -- settings -----------------------------------------------------------------------------------


def _settings(data: dict[str, object]) -> config.Settings:
    return validate_section("receiver", config.Settings, data)


def test_default_policy_reminds_p0_every_5_and_p1_every_30_minutes() -> None:
    rules = config.Settings().escalation_rules()
    assert rules == {
        "P0": EscalationRule(remind_every=300, remind_to=("telegram",)),
        "P1": EscalationRule(remind_every=1800, remind_to=("telegram",)),
    }


def test_the_shipped_file_escalates_p0_and_p1(config_env: pytest.MonkeyPatch) -> None:
    rules = config.load().escalation_rules()
    assert rules["P0"].escalate_to and rules["P0"].escalate_after
    assert rules["P1"].escalate_to and rules["P1"].escalate_after


def test_the_old_remind_after_minutes_still_counts_where_escalation_is_silent() -> None:
    settings = _settings(
        {
            "dispatcher": {"remind_after_minutes": {"P0": 12, "P2": 200}},
            "escalation": {"P0": {"escalate_after_minutes": 20, "escalate_to": ["slack_critical"]}},
        }
    )
    rules = settings.escalation_rules()
    assert rules["P0"].remind_every == 720 and rules["P0"].escalate_after == 1200
    assert rules["P2"].remind_every == 12000
    assert rules["P1"].remind_every == 1800  # the default, which the old key did not name


@pytest.mark.parametrize(
    ("level", "message"),
    [
        ({"escalate_after_minutes": 5}, "escalate_after_minutes needs escalate_to"),
        ({"escalate_to": ["pager"]}, "unknown target 'pager'"),
        ({"mention": ["alice; rm -rf"]}, "mention"),
        ({"remind_every_minutes": 0}, "remind_every_minutes"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_key(level: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _settings({"escalation": {"P0": level}})


def test_a_silence_pauses_until_it_ends_and_a_mute_until_the_resolve() -> None:
    silenced = escalation_silenced(_timer(), T0 + 60 * MIN)
    assert silenced is not None and silenced.state is EscalationState.SILENCED
    assert next_due(silenced) == T0 + 60 * MIN
    assert escalation_due(silenced, T0 + 30 * MIN) is None
    resumed = escalation_due(silenced, T0 + 60 * MIN)
    assert resumed is not None and resumed.remind and not resumed.ack_expired
    assert resumed.timer.state is EscalationState.WAITING
    held = escalation_due(silenced, T0 + 60 * MIN, acknowledged=True)
    assert held is not None and held.timer.state is EscalationState.ACKNOWLEDGED
    assert not held.remind
    muted = escalation_silenced(silenced, None)  # a mute outlasts any silence
    assert muted is not None and next_due(muted) is None
    assert escalation_silenced(muted, T0 + 90 * MIN) is None  # a shorter one changes nothing
    lifted = escalation_unsilenced(muted, T0 + 70 * MIN)
    assert lifted is not None and next_due(lifted) == T0 + 70 * MIN
