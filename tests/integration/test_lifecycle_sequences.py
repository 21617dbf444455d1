"""The sequences that used to leave an operator uninformed or misinformed, each against real
PostgreSQL (and the Telegram stand-in where a message is involved)."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable

import psycopg2
from flask.testing import FlaskClient

from receiver import links, store
from receiver.channels.registry import build_channels
from receiver.delivery.worker import Dispatcher
from receiver.store import digests, outbox
from receiver.webhook_parser import parse
from tests.support.database import query
from tests.support.delivery import fast_settings, running
from tests.support.payloads import alert, payload
from tests.support.standins.telegram import TelegramStandin

RESOLVED_AT = "2026-11-24T03:05:00.000Z"


def _post(client: FlaskClient, *alerts: dict[str, object]) -> dict[str, object]:
    response = client.post(
        "/webhook", data=json.dumps(payload(*alerts)), content_type="application/json"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def test_a_refire_with_the_same_starts_at_after_a_resolve_pages_again(
    client: FlaskClient, database_url: str, telegram: TelegramStandin
) -> None:
    """Prometheus restarted: Alertmanager timed the alert out (RESOLVED), then it came back
    with the same startsAt. It is a new episode, told like any new firing."""
    assert _post(client, alert())["new"] == 1
    assert _post(client, alert(status="resolved", ends_at=RESOLVED_AT))["resolved"] == 1
    again = _post(client, alert())
    assert again["refired"] == 1 and int(str(again["queued"])) >= 1
    rows = query(database_url, "SELECT episode, status FROM alert_history ORDER BY episode")
    assert rows == [(1, "resolved"), (2, "firing")]
    # A late copy of the first episode's resolve does not end the second.
    assert _post(client, alert(status="resolved", ends_at=RESOLVED_AT))["resolved"] == 0
    with running(database_url, fast_settings(telegram)):
        _wait_state_in(database_url, {"sent", "superseded", "unsent"})
    heads = [m.text.split("\n")[0] for m in telegram.sent()]
    assert heads == [
        "✅ <b>[P0] FIRED AND RESOLVED: GlobalGuard BLOCK</b>",
        "🔴 <b>[P0] GlobalGuard BLOCK</b>",
    ]
    assert telegram.sent()[-1].buttons, "the new page has its Ack/Silence buttons"


def test_a_firing_that_failed_during_an_outage_is_never_sent_after_its_resolve(
    client: FlaskClient, database_url: str, telegram: TelegramStandin
) -> None:
    _post(client, alert())
    telegram.down_status = 502
    with running(database_url, fast_settings(telegram)):
        _wait_until(
            lambda: query(database_url, "SELECT count(*) FROM notification_attempt")[0][0] != 0
        )
        _post(client, alert(status="resolved", ends_at=RESOLVED_AT))
        # Telegram comes back only once the firing is not mid-send: one already being sent
        # when the resolve arrived may still go out first, in order, which is not this case.
        firing = "SELECT state FROM notification WHERE kind = 'firing' AND target = 'telegram'"
        _wait_until(lambda: query(database_url, firing)[0][0] in ("queued", "superseded"))
        telegram.down_status = None
        _wait_state_in(database_url, {"sent", "superseded", "unsent"})
    (only,) = [m for m in telegram.sent() if "GlobalGuard" in m.text]
    assert "FIRED AND RESOLVED" in only.text
    assert "Fired: 2026-11-24 03:00:00 UTC" in only.text
    assert not only.buttons, "no Ack/Silence under an alert that is over"
    states = query(database_url, "SELECT kind, state FROM notification ORDER BY id")
    assert ("firing", "superseded") in states and ("resolved", "sent") in states


def _wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _wait_state_in(url: str, states: set[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline:
        rows = query(url, "SELECT state FROM notification")
        if rows and all(r[0] in states for r in rows):
            return
        time.sleep(0.05)
    raise AssertionError(rows)


def test_a_resolved_waiting_for_its_firing_is_not_due_so_the_loop_sleeps(
    database_url: str,
) -> None:
    conn = store.connect(database_url)
    store.ingest(conn, parse(payload(alert())), ["telegram"])
    firing = outbox.claim(conn, owner="A", lease_seconds=30)
    assert firing is not None and firing.kind == "firing"
    store.ingest(conn, parse(payload(alert(status="resolved"))), ["telegram"])
    # The resolved is queued and past its time, but behind its firing (being sent): the next
    # thing due is the firing's lease, not "now".
    due = outbox.seconds_until_due(conn)
    assert due is not None and 25 < due <= 30
    assert outbox.claim(conn, owner="B", lease_seconds=30) is None
    conn.close()


def test_a_dispatcher_that_lost_its_lease_changes_nothing(database_url: str) -> None:
    a, b = store.connect(database_url), store.connect(database_url)
    store.ingest(a, parse(payload(alert())), ["telegram"])
    stalled = outbox.claim(a, owner="A", lease_seconds=30)
    assert stalled is not None
    with b, b.cursor() as cur:  # 31 s later on B's clock: A's lease has run out
        cur.execute("SET d76.clock_offset = '31 s'")
    taken = outbox.claim(b, owner="B", lease_seconds=30)
    assert taken is not None and taken.id == stalled.id and taken.claim_token != stalled.claim_token
    assert outbox.record_sent(b, taken, "201", 5)
    assert not outbox.record_retry(a, stalled, "telegram: timed out", 1, 9000, throttled=False)
    rows = query(database_url, "SELECT state, message_id FROM notification")
    assert rows == [("sent", "201")]
    outcomes = query(database_url, "SELECT outcome FROM notification_attempt ORDER BY id")
    assert outcomes == [("sent",), ("late-retry",)]
    a.close()
    b.close()


def test_a_p0_arriving_while_others_wait_is_claimed_next(database_url: str) -> None:
    conn = store.connect(database_url)
    lesser = [alert(f"Warn{i}", severity="P2", fingerprint=f"{i:016d}") for i in range(5)]
    store.ingest(conn, parse(payload(*lesser)), ["telegram"])
    first = outbox.claim(conn, owner="A", lease_seconds=30)
    assert first is not None and first.severity == "P2"
    store.ingest(conn, parse(payload(alert(fingerprint="ff00000000000000"))), ["telegram"])
    nxt = outbox.claim(conn, owner="A", lease_seconds=30)
    assert nxt is not None and nxt.severity == "P0"
    conn.close()


def _fold(conn: store.Connection, fingerprint: str) -> None:
    """Queue a P2 for Telegram and fold it into the pending digest, as over budget."""
    store.ingest(conn, parse(payload(alert(severity="P2", fingerprint=fingerprint))), ["telegram"])
    item = outbox.claim(conn, owner="A", lease_seconds=30)
    assert item is not None and digests.fold(conn, item)


def test_a_digest_left_by_a_dead_dispatcher_comes_back_within_its_lease(
    database_url: str,
) -> None:
    conn = store.connect(database_url)
    _fold(conn, "a000000000000001")
    dead = digests.claim(conn, "telegram", owner="A", lease_seconds=30)
    assert dead is not None and dead.folded == 1
    assert digests.claim(conn, "telegram", owner="B", lease_seconds=30) is None
    with conn, conn.cursor() as cur:
        cur.execute("SET d76.clock_offset = '31 s'")
    back = digests.claim(conn, "telegram", owner="B", lease_seconds=30)
    assert back is not None and back.id == dead.id and back.folded == 1
    assert not digests.finish(conn, dead, "1")  # the dead one's late write changes nothing
    assert digests.finish(conn, back, "2")
    assert query(database_url, "SELECT state FROM notification") == [("digested",)]
    conn.close()


def test_a_429_on_a_digest_pauses_the_destination_and_keeps_one_digest(
    database_url: str,
) -> None:
    conn = store.connect(database_url)
    _fold(conn, "a000000000000001")
    claimed = digests.claim(conn, "telegram", owner="A", lease_seconds=30)
    assert claimed is not None
    _fold(conn, "a000000000000002")  # folded while the digest is being sent: a new pending one
    assert digests.retry(conn, claimed, "telegram: rate limited", 7, throttled=True)
    assert digests.due_targets(conn) == []  # paused for the retry_after, not retried at once
    # One digest carries both: the failed one took in the one opened meanwhile.
    assert query(database_url, "SELECT count(*), min(state) FROM digest") == [(1, "pending")]
    assert query(database_url, "SELECT count(DISTINCT digest_id) FROM notification") == [(1,)]
    conn.close()


def test_four_429s_never_fail_a_p0(database_url: str, telegram: TelegramStandin) -> None:
    store_conn = psycopg2.connect(database_url)
    store.ingest(store_conn, parse(payload(alert())), ["telegram"])
    store_conn.close()
    for _ in range(4):
        telegram.fail_next(1, 429, "Too Many Requests: retry after 1", retry_after=1)
    with running(database_url, fast_settings(telegram)):
        telegram.wait_for(lambda m: "GlobalGuard" in m.text, 20)
    assert query(database_url, "SELECT state FROM notification") == [("sent",)]


def test_one_bad_channel_error_does_not_stop_the_dispatcher(
    database_url: str, telegram: TelegramStandin
) -> None:
    class Exploding:
        name = "slack_alerts"

        def send(self, message: object) -> str:
            raise ValueError("an invalid Slack URL")

        def close(self) -> None:
            pass

    settings = fast_settings(telegram)
    from receiver.channels.registry import build_channels

    channels = {**build_channels(settings), "slack_alerts": Exploding()}
    conn = psycopg2.connect(database_url)
    store.ingest(conn, parse(payload(alert(severity="P1"))), ["slack_alerts", "telegram"])
    conn.close()
    dispatcher = Dispatcher(database_url, settings.dispatcher, channels)
    dispatcher.connect()
    for _ in range(5):
        dispatcher.step()
    dispatcher.close()
    rows = {
        str(t): str(s) for t, s in query(database_url, "SELECT target, state FROM notification")
    }
    assert rows == {"slack_alerts": "failed", "telegram": "sent"}


def test_an_alertmanager_repeat_reminds_nobody_the_escalation_timer_does(
    client: FlaskClient, database_url: str
) -> None:
    """One mechanism: Alertmanager's repeat_interval re-sends the alert; it queues nothing.
    The P0's escalation timer (started with the episode) reminds: integration/test_escalation."""
    first = _post(client, alert())
    assert first["queued"] == 2 and first["escalations"] == 1
    query(database_url, "UPDATE notification SET created_at = created_at - interval '13 min'")
    repeat = _post(client, alert())  # Alertmanager's repeat_interval
    assert repeat["reminders"] == 0 and repeat["queued"] == 0 and repeat["escalations"] == 0
    assert query(database_url, "SELECT state, remind_every FROM escalation") == [("waiting", 300)]


def test_a_digest_links_the_history_page_of_the_alerts_it_folded(
    database_url: str, telegram: TelegramStandin, client: FlaskClient
) -> None:
    conn = store.connect(database_url)
    folded = {
        "RouteScoreLowA": "2026-11-24T03:00:00.250Z",
        "RouteScoreLowB": "2026-11-24T03:04:59Z",
    }
    for index, (name, starts) in enumerate(folded.items()):
        body = alert(name, severity="P2", fingerprint=f"d{index:015d}", starts_at=starts)
        store.ingest(conn, parse(payload(body)), ["telegram"])
        item = outbox.claim(conn, owner="A", lease_seconds=30)
        assert item is not None and digests.fold(conn, item)
    later = alert("RouteScoreLowLater", severity="P2", fingerprint="e" * 16,
                  starts_at="2026-11-24T03:06:00Z")  # fmt: skip
    store.ingest(conn, parse(payload(later)), [])  # stored, outside the digest's range
    conn.close()
    settings = fast_settings(telegram)
    base = links.LinkBase("http://127.0.0.1:9095", "http://127.0.0.1:9093")
    dispatcher = Dispatcher(
        database_url, settings.dispatcher, build_channels(settings), link_base=base
    )
    dispatcher.connect()
    try:
        assert dispatcher.send_due_digest()
    finally:
        dispatcher.close()
    (sent,) = telegram.sent()
    assert sent.text.startswith("📦") and "2× " not in sent.text
    (url,) = re.findall(r'🔗 <a href="([^"]+)">History</a>$', sent.text)
    url = html.unescape(url)
    assert url == (
        "http://127.0.0.1:9095/history?from=2026-11-24T03%3A00%3A00Z&to=2026-11-24T03%3A05%3A00Z"
    )
    page = client.get(url.removeprefix(base.receiver)).get_data(as_text=True)
    assert "RouteScoreLowA" in page and "RouteScoreLowB" in page
    assert "RouteScoreLowLater" not in page
