"""The delivery lifecycle under any interleaving, against real PostgreSQL.

A hypothesis state machine interleaves webhooks (firing, resolved, re-fire, duplicates, late
copies), acknowledgements, two dispatchers' steps, sends left in flight and finished after
their lease ran out (a dispatcher that stalled or died), channel faults (5xx, 429 with
retry_after, a timeout after the message was in fact delivered) and clock advances (the
database clock ``d76_now()`` shifted on every connection), and the escalation timers' steps
(reminders, escalations, acknowledgements that expire), and graph snapshots drawn or skipped
by two graph workers (their photos queued behind the pages). After every step it checks:

- never a firing (or reminder, or escalation, or graph photo) after its own resolved, to any
  target; a photo only after its page, at most once per episode;
- every message sent more than once is explained by a lost outcome the attempt log counts;
- the per-destination budget is never exceeded, on the channel's own clock;
- a P0 that was due is what a step sends, never a lesser alert or a digest;
- no notification or digest waits longer than its lease, the backoff cap, a retry_after or
  the budget window: something will move it; no escalation timer runs for a resolved alert;

and at the end, with the faults healed and time let run: every notification is final, and
every firing reached each target (or resolved first, and then the "fired and resolved"
message did, or it was acknowledged before it could go out).

Fixed seed, about a minute in ``make test``; ``D76_PROPERTY_EXAMPLES=500`` runs longer.
"""

from __future__ import annotations

import os
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from receiver import config, store
from receiver.channels.base import Outgoing, TransientError
from receiver.delivery import Dispatcher
from receiver.model import Claimed, EscalationRule
from receiver.store import escalation, graphs, outbox
from receiver.store.graphs import Wanted
from receiver.webhook_parser import parse
from tests.support.database import empty_tables
from tests.support.payloads import ZERO_TIME, alert, payload

TARGETS = ("telegram", "telegram_b")
ALERTS = (  # (alertname, severity): one fingerprint each, one startsAt (so re-fires are real)
    ("PageZero", "P0"),
    ("PageOne", "P1"),
    ("WarnTwo", "P2"),
    ("WarnThree", "P2"),
)
LIMIT, RESERVE, WINDOW = 4, 1, 60.0
LEASE, BACKOFF_CAP, RETRY_AFTER = 30.0, 10.0, 7.0
REMIND_AFTER, ESCALATE_AFTER, ACK_EXPIRES = 300.0, 600.0, 400.0
STARTS = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("D76_PROPERTY_EXAMPLES", "150"))


@dataclass
class Delivered:
    at: float  # the database clock's seconds (real time plus the test's offset)
    target: str
    alertname: str  # "" for a digest
    kind: str  # firing, resolved, fired-and-resolved, reminder, escalation, digest
    severity: str
    ident: str = ""  # what tells two messages of one kind apart (an episode's resolve time)


_HEAD = re.compile(r"\[(P\d)\] (STILL FIRING: |ESCALATED: |FIRED AND RESOLVED: |RESOLVED: )?")
_KIND = {None: "firing", "STILL FIRING: ": "reminder", "RESOLVED: ": "resolved"}
_KIND["ESCALATED: "] = "escalation"
_KIND["FIRED AND RESOLVED: "] = "fired-and-resolved"


@dataclass
class FaultyChannel:
    """A channel whose faults the machine sets; it logs what it truly delivered."""

    name: str
    clock: Clock
    log: list[Delivered]
    mode: str = "ok"  # ok, 5xx, 429, lost (delivered, then a timeout)

    def send(self, message: Outgoing) -> str | None:
        if self.mode == "5xx":
            raise TransientError(f"{self.name}: HTTP 502 Bad Gateway")
        if self.mode == "429":
            raise TransientError(f"{self.name}: rate limited", RETRY_AFTER)
        if message.photo is not None:  # a graph's photo: its caption names the alert
            head, name = (
                re.search(r"\[(P\d)\]", message.text),
                re.search(r"<i>(\w+):", message.text),
            )
            assert head and name and message.reply_to, message
            self.log.append(Delivered(self.clock.now(), self.name, name.group(1), "graph",
                                      head.group(1)))  # fmt: skip
            if self.mode == "lost":
                raise TransientError(f"{self.name}: timed out", outcome_unknown=True)
            return str(len(self.log))
        for entry in self._entries(message.text):
            self.log.append(entry)
        if self.mode == "lost":
            raise TransientError(f"{self.name}: timed out", outcome_unknown=True)
        return str(len(self.log))

    def _entries(self, text: str) -> list[Delivered]:
        now = self.clock.now()
        if text.startswith("📦"):
            out = [Delivered(now, self.name, "", "digest", "")]
            for count, name, severity, kind in re.findall(
                r"^(\d+)× (\w+) (P\d)( [\w-]+)?$", text, re.MULTILINE
            ):
                told = (kind or " firing").strip()
                # Two firings in a row are one episode's page twice, however each went (a
                # page whose send timed out, then told by a digest): ident "" says so.
                ident = "" if told == "firing" else text
                entry = Delivered(now, self.name, name, f"digested-{told}", severity, ident)
                out += [entry] * int(count)
            return out
        match = _HEAD.search(text)
        assert match, text
        name = re.search(r"<i>(\w+) ·", text)
        assert name, text
        resolved = re.search(r"Resolved: ([^\n]+)", text)
        kind = _KIND[match.group(2)]
        ident = resolved.group(1) if resolved else ""
        return [Delivered(now, self.name, name.group(1), kind, match.group(1), ident)]

    def close(self) -> None:
        pass


@dataclass
class Clock:
    offset: float = 0.0
    connections: list[psycopg2.extensions.connection] = field(default_factory=list)

    def now(self) -> float:
        return time.time() + self.offset

    def apply(self, conn: psycopg2.extensions.connection) -> None:
        autocommit = conn.autocommit
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('d76.clock_offset', %s, false)", (f"{self.offset} s",))
        conn.autocommit = autocommit

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        for conn in self.connections:
            if not conn.closed:
                self.apply(conn)


def _settings() -> config.Settings:
    return config.Settings.model_validate(
        {
            "dispatcher": {
                "rate_limit_per_window": LIMIT,
                "p0_reserve": RESERVE,
                "rate_window_seconds": WINDOW,
                "lease_seconds": LEASE,
                "backoff_base_seconds": 2,
                "backoff_max_seconds": BACKOFF_CAP,
            }
        }
    )


# Per alert and target, duplicates removed. A firing acknowledged before it went out is never
# sent; if the ack expires, reminders tell it ([ME]* without F) and its resolve is an X.
# Per alert and target: each episode's page, its reminders and escalation, at most one graph
# photo after the page, then its resolve; or only the "fired and resolved" (no photo).
_SEQUENCE = re.compile(r"(F[ME]*(G[ME]*)?[RX]|[ME]*X)*(F[ME]*(G[ME]*)?|[ME]*)?")
_LETTER = {"firing": "F", "reminder": "M", "resolved": "R", "fired-and-resolved": "X"}
_LETTER["escalation"] = "E"
_LETTER["graph"] = "G"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32  # the machine tests the lifecycle, not the drawing


def test_the_lifecycle_holds_under_any_interleaving(database_url: str) -> None:
    url = database_url

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            empty_tables(url)  # each example starts from an empty database
            self.clock = Clock()
            self.log: list[Delivered] = []
            self.channels = {t: FaultyChannel(t, self.clock, self.log) for t in TARGETS}
            self.dispatchers = []
            for name in ("A", "B"):
                d = Dispatcher(
                    url,
                    _settings().dispatcher,
                    self.channels,
                    rng=random.Random(7),
                    name=name,
                )
                self.clock.connections.append(d.connect())
                self.dispatchers.append(d)
            self.ingest_conn = store.connect(url)
            self.clock.connections.append(self.ingest_conn)
            self.in_flight: dict[int, Claimed] = {}
            self.episodes = {name: 0 for name, _ in ALERTS}
            rule = EscalationRule(
                remind_every=REMIND_AFTER,
                escalate_after=ESCALATE_AFTER,
                ack_expires_after=ACK_EXPIRES,
                remind_to=("telegram",),
                escalate_to=("telegram_b",),
            )
            self.policy = store.IngestPolicy(
                escalation={"P0": rule, "P1": rule}, graphs=Wanted(("P0", "P1"))
            )

        def teardown(self) -> None:
            try:
                self._drain_and_check()
            finally:
                for d in self.dispatchers:
                    d.close()
                self.ingest_conn.close()

        # -- helpers ----------------------------------------------------------------------

        def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
            with self.ingest_conn, self.ingest_conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []

        def _post(self, name: str, status: str, ends_at: str = ZERO_TIME) -> None:
            severity = dict(ALERTS)[name]
            body = alert(
                name,
                severity=severity,
                status=status,
                fingerprint=f"{name:0>16}"[-16:],
                starts_at=STARTS.isoformat().replace("+00:00", "Z"),
                ends_at=ends_at,
                annotations={"summary": name},
            )
            store.ingest(self.ingest_conn, parse(payload(body)), list(TARGETS), self.policy)

        def _due_p0(self) -> int:
            rows = self._query(
                f"SELECT count(*) FROM notification n WHERE n.priority = 0 AND {outbox.DUE}"
            )
            return int(str(rows[0][0]))

        # -- rules ------------------------------------------------------------------------

        @rule(index=st.integers(0, len(ALERTS) - 1))
        def fire(self, index: int) -> None:
            self._post(ALERTS[index][0], "firing")

        @rule(index=st.integers(0, len(ALERTS) - 1), late_copy=st.booleans())
        def resolve(self, index: int, late_copy: bool) -> None:
            name = ALERTS[index][0]
            if not late_copy:
                self.episodes[name] += 1
            # Each episode resolves at its own time; a late copy repeats the previous one's.
            ends = STARTS + timedelta(minutes=5 * max(1, self.episodes[name]))
            self._post(name, "resolved", ends.isoformat().replace("+00:00", "Z"))

        @rule(index=st.integers(0, len(ALERTS) - 1))
        def acknowledge(self, index: int) -> None:
            rows = self._query(
                "SELECT id FROM alert_history WHERE alertname = %s ORDER BY episode DESC LIMIT 1",
                (ALERTS[index][0],),
            )
            if rows:
                store.acknowledge(self.ingest_conn, int(str(rows[0][0])), "test")

        @rule(which=st.integers(0, 1))
        def step(self, which: int) -> None:
            p0_due = self._due_p0()
            before = len(self.log)
            self.dispatchers[which].step()
            sent = [e for e in self.log[before:] if e.kind != "digest"]
            if p0_due and sent:
                assert sent[0].severity == "P0", f"a P0 was due but {sent[0]} went first"

        @rule(which=st.integers(0, 1))
        def escalate(self, which: int) -> None:
            escalation.advance_due(self.clock.connections[which], retry_for_seconds=86400)

        @precondition(lambda self: len(self.in_flight) < 2)
        @rule(which=st.integers(0, 1))
        def claim_and_stall(self, which: int) -> None:
            d = self.dispatchers[which]
            item = outbox.claim(self.clock.connections[which], owner=d.name, lease_seconds=LEASE)
            if item is not None:
                self.in_flight[which] = item

        @precondition(lambda self: bool(self.in_flight))
        @rule(which=st.integers(0, 1))
        def finish_stalled(self, which: int) -> None:
            item = self.in_flight.pop(which, None)
            if item is not None:
                self.dispatchers[which].deliver(item)  # late, maybe after losing the lease

        @precondition(lambda self: bool(self.in_flight))
        @rule(which=st.integers(0, 1))
        def crash(self, which: int) -> None:
            self.in_flight.pop(which, None)  # it died mid-send: only the lease brings it back

        @rule(which=st.integers(0, 1), drawn=st.booleans())
        def draw(self, which: int, drawn: bool) -> None:
            conn = self.clock.connections[which]
            job = graphs.claim(conn, owner=f"graphs-{which}", lease_seconds=LEASE, max_attempts=2)
            if job is None:
                return
            if drawn:
                graphs.done(
                    conn, job, png=PNG, expression="x", threshold=None, render_ms=1,
                    photo_within_seconds=600,
                )  # fmt: skip
            else:
                graphs.skipped(conn, job, "Prometheus did not answer within 5 s")

        @rule(dest=st.sampled_from(TARGETS), mode=st.sampled_from(["ok", "5xx", "429", "lost"]))
        def fault(self, dest: str, mode: str) -> None:
            self.channels[dest].mode = mode

        @rule(seconds=st.sampled_from([1.0, 5.0, 11.0, 31.0, 61.0, 301.0]))
        def advance(self, seconds: float) -> None:
            self.clock.advance(seconds)

        # -- invariants -------------------------------------------------------------------

        @invariant()
        def order_and_duplicates(self) -> None:
            counted = int(
                str(
                    self._query(
                        "SELECT (SELECT count(*) FROM notification_attempt "
                        "        WHERE outcome IN ('unknown', 'late-sent', 'late-unknown'))"
                        "     + (SELECT COALESCE(sum(unknown_outcomes), 0) FROM digest)"
                    )[0][0]
                )
            )
            extra = 0
            for target in TARGETS:
                for name, _ in ALERTS:
                    told = [e for e in self.log if e.target == target and e.alertname == name]
                    letters = [_LETTER.get(e.kind.removeprefix("digested-"), "?") for e in told]
                    # Reminders may repeat by design, and an escalation follows an expired ack
                    # once more; any other message twice in a row (same kind, same episode) is
                    # a duplicate delivery.
                    deduped = [
                        c
                        for i, c in enumerate(letters)
                        if i == 0
                        or (c, told[i].ident) != (letters[i - 1], told[i - 1].ident)
                        or c in "ME"
                    ]
                    extra += len(letters) - len(deduped)
                    text = "".join(deduped)
                    assert _SEQUENCE.fullmatch(text), f"{name} to {target}: {text}"
            assert extra <= counted, f"{extra} duplicate(s), {counted} lost outcome(s) counted"

        @invariant()
        def budget_holds(self) -> None:
            for target in TARGETS:
                times = sorted(e.at for e in self.log if e.target == target and not
                               e.kind.startswith("digested-"))  # fmt: skip
                for i, start in enumerate(times):
                    within = sum(1 for t in times[i:] if t < start + WINDOW - 0.5)
                    assert within <= LIMIT, f"{within} messages to {target} in one window"

        @invariant()
        def nothing_is_stranded(self) -> None:
            bound = max(LEASE, BACKOFF_CAP, RETRY_AFTER, WINDOW) + 2
            stuck = self._query(
                """SELECT n.id, n.state, n.kind FROM notification n
                     LEFT JOIN destination d ON d.target = n.target
                     LEFT JOIN digest g ON g.id = n.digest_id
                    WHERE (n.state = 'queued' AND GREATEST(n.next_attempt_at, d.paused_until)
                                                  > d76_now() + make_interval(secs => %(b)s))
                       OR (n.state = 'sending' AND n.lease_until
                                                  > d76_now() + make_interval(secs => %(b)s))
                       OR (n.state = 'folded' AND (g.id IS NULL OR g.state NOT IN
                                                   ('pending', 'sending')))""",
                {"b": bound},  # type: ignore[arg-type]
            )
            assert not stuck, f"nothing will move these: {stuck}"
            running = self._query(
                """SELECT e.alert_id, e.state, a.status, a.acknowledged FROM escalation e
                     JOIN alert_history a ON a.id = e.alert_id
                    WHERE (e.state <> 'done' AND a.status = 'resolved')
                       OR (e.state = 'acknowledged' AND NOT a.acknowledged)
                       OR (e.state = 'waiting' AND a.acknowledged AND e.next_at IS NULL)"""
            )
            assert not running, f"escalation timers out of step with their alerts: {running}"
            if self._query(
                "SELECT 1 FROM notification WHERE state IN ('queued', 'sending', 'folded')"
            ):
                assert outbox.seconds_until_due(self.ingest_conn) is not None

        # -- the end ----------------------------------------------------------------------

        def _drain_and_check(self) -> None:
            for channel in self.channels.values():
                channel.mode = "ok"
            self.in_flight.clear()
            for _ in range(40):
                self.clock.advance(WINDOW + 1)
                for _ in range(60):
                    if not any(d.step() for d in self.dispatchers):
                        break
                if not self._query(
                    "SELECT 1 FROM notification WHERE state IN ('queued', 'sending', 'folded')"
                ):
                    break
            self.order_and_duplicates()
            self.budget_holds()
            left = self._query(
                "SELECT id, state, kind FROM notification "
                "WHERE state IN ('queued', 'sending', 'folded')"
            )
            assert not left, f"never delivered: {left}"
            # Every firing reached its target, or resolved first (then the resolved did), or
            # was acknowledged before it could go out.
            missing = self._query(
                """SELECT a.alertname, a.episode, n.target, n.state FROM notification n
                     JOIN alert_history a ON a.id = n.alert_id
                    WHERE n.kind = 'firing' AND NOT (
                          n.state IN ('sent', 'digested')
                       OR (n.state = 'superseded' AND EXISTS (
                              SELECT 1 FROM notification r WHERE r.alert_id = n.alert_id
                                 AND r.target = n.target AND r.kind = 'resolved'
                                 AND r.state IN ('sent', 'digested')))
                       OR (n.state = 'cancelled' AND EXISTS (
                              SELECT 1 FROM alert_action k
                               WHERE k.alert_id = a.id AND k.action = 'ack')))"""
            )
            assert not missing, f"firings that reached nobody: {missing}"
            folded_p0 = self._query(
                "SELECT id FROM notification WHERE priority = 0 AND kind <> 'resolved' "
                "AND state IN ('folded', 'digested')"
            )
            assert not folded_p0, "a P0 page was folded into a digest"

    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=30,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


@pytest.fixture(autouse=True)
def _quiet_dispatcher_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="d76.dispatcher")
