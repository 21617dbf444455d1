"""The lifecycle's pure rules, and the supervisor's restart policy: no services needed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from receiver.lifecycle import (
    Arrival,
    OverBudget,
    after_transient,
    allowance,
    arrival,
    not_worth_sending,
    over_budget,
    photo_gives_up,
)
from receiver.model import Claimed, Occurrence, State
from stack.procs import RestartPolicy

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def _occurrence(status: str, **changes: object) -> Occurrence:
    base: dict[str, object] = dict(
        id=1, fingerprint="f", starts_at=T0, episode=1, severity="P0", status=status,
        acknowledged=False, ends_at=None, previous_ends_at=None,
    )  # fmt: skip
    base.update(changes)
    return Occurrence(**base)  # type: ignore[arg-type]


def test_a_firing_after_a_resolve_is_a_new_episode_never_dropped() -> None:
    assert arrival(_occurrence("resolved"), "firing", None) is Arrival.REFIRE
    assert arrival(None, "firing", None) is Arrival.NEW
    assert arrival(_occurrence("firing"), "resolved", T0) is Arrival.RESOLVE


def test_a_late_copy_of_the_previous_episodes_resolve_is_ignored() -> None:
    second = _occurrence("firing", episode=2, previous_ends_at=T0 + timedelta(minutes=5))
    late = T0 + timedelta(minutes=5)
    assert arrival(second, "resolved", late) is Arrival.IGNORE
    assert arrival(second, "resolved", late + timedelta(minutes=1)) is Arrival.RESOLVE


def test_an_alertmanager_repeat_changes_nothing_the_escalation_timer_reminds() -> None:
    assert arrival(_occurrence("firing"), "firing", None) is Arrival.IGNORE
    assert arrival(_occurrence("firing", acknowledged=True), "firing", None) is Arrival.IGNORE


def test_only_p0_pages_use_the_p0_reserve_and_only_p0_is_never_folded() -> None:
    assert allowance(0, "firing", 10, 2) == 10
    assert allowance(0, "reminder", 10, 2) == 10
    assert allowance(0, "resolved", 10, 2) == 8  # good news does not take a page's slot
    assert allowance(1, "firing", 10, 2) == 8
    assert over_budget(0) is OverBudget.WAIT
    assert over_budget(2) is OverBudget.FOLD


def _claimed(**changes: object) -> Claimed:
    base: dict[str, object] = dict(
        id=1, kind="firing", target="telegram", priority=0, attempts=1, reply_to=None,
        alert_id=1, severity="P0", source="s", alertname="A", title="t", message="m",
        status="firing", starts_at=T0, ends_at=None, labels={}, annotations={},
        generator_url="", give_up_at=T0 + timedelta(hours=24),
    )  # fmt: skip
    base.update(changes)
    return Claimed(**base)  # type: ignore[arg-type]


def test_what_is_no_longer_worth_sending() -> None:
    assert not_worth_sending(_claimed(), T0) is None
    resolved = not_worth_sending(_claimed(status="resolved"), T0)
    assert resolved is not None and resolved.state is State.SUPERSEDED
    acked = not_worth_sending(_claimed(acknowledged=True), T0)
    assert acked is not None and acked.state is State.CANCELLED
    assert not_worth_sending(_claimed(kind="resolved", acknowledged=True), T0) is None
    late = not_worth_sending(_claimed(), T0 + timedelta(hours=25))
    assert late is not None and late.state is State.FAILED


def test_a_429_pauses_for_its_retry_after_and_failures_back_off_to_the_cap() -> None:
    rng = random.Random(1)
    assert after_transient(5, 7.0, 2, 10, rng).delay_seconds == 7.0
    delays = [after_transient(n, None, 2, 10, rng).delay_seconds for n in range(8)]
    assert delays[0] <= 2 and max(delays) <= 10
    assert all(5 <= d <= 10 for d in delays[3:])


def test_the_supervisor_restarts_with_backoff_and_forgives_after_a_quiet_spell() -> None:
    policy = RestartPolicy(first=1, cap=60, settle=300)
    policy.started("dispatcher", 0)
    assert policy.exited("dispatcher", 10) == 1
    assert not policy.due("dispatcher", 10.5) and policy.due("dispatcher", 11)
    policy.started("dispatcher", 11)
    assert policy.exited("dispatcher", 12) == 2
    policy.started("dispatcher", 14)
    assert policy.exited("dispatcher", 15) == 4
    policy.started("dispatcher", 19)
    assert policy.exited("dispatcher", 19 + 301) == 1  # it had stayed up: start again at 1 s


def test_a_graph_photo_answers_its_page_and_only_while_the_alert_fires() -> None:
    photo = dict(kind="graph", priority=1, reply_to="101", photo=b"\x89PNG")
    assert not_worth_sending(_claimed(**photo), T0) is None
    # An acknowledgement does not cancel it: the person on it is helped by the graph.
    assert not_worth_sending(_claimed(**photo, acknowledged=True), T0) is None
    for changes, reason in (
        ({"status": "resolved"}, "resolved before the graph went out"),
        ({"reply_to": None}, "not there to reply to"),
        ({"give_up_at": T0}, "too late for the graph"),
    ):
        verdict = not_worth_sending(_claimed(**{**photo, **changes}), T0)
        assert verdict is not None and verdict.state is State.CANCELLED, changes
        assert reason in verdict.reason
    assert allowance(0, "graph", 10, 2) == 4  # only while half the window is free
    assert over_budget(0, "graph") is OverBudget.DROP  # not folded into a digest, not waited for
    # A failure is not retried (the chat is never paused for a photo), a 429 is waited out.
    assert photo_gives_up(transient=True, retry_after=None)
    assert photo_gives_up(transient=False, retry_after=None)
    assert not photo_gives_up(transient=True, retry_after=3.0)
