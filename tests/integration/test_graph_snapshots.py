"""Graph snapshots against real PostgreSQL and a real Prometheus: the page goes out at once
and its graph follows as a reply photo; a graph Prometheus cannot give is skipped with a note
while pages keep going; no photo after the resolve; a worker that dies mid-graph frees it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import psycopg2
import pytest
from flask.testing import FlaskClient

from receiver import config, store
from receiver.graphs import prometheus as graph_prometheus
from receiver.graphs.worker import GraphWorker
from receiver.store import graphs
from receiver.store.graphs import Wanted
from tests.support.database import query, wait_rows
from tests.support.delivery import fast_settings, queue_alerts, running
from tests.support.payloads import alert
from tests.support.standins.telegram import TelegramStandin, png_size

GRAPHS = store.IngestPolicy(graphs=Wanted(("P0", "P1")))
EXPRESSION = "prometheus_tsdb_head_series > 1"


def firing(
    prometheus: str, name: str = "GlobalGuardDailyLossLimit", **changes: Any
) -> dict[str, Any]:
    started = (datetime.now(UTC) - timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    found = alert(name, starts_at=started, **changes)
    found["generatorURL"] = f"{prometheus}/graph?g0.expr={quote(EXPRESSION)}&g0.tab=1"
    return found


def graph_settings(telegram: TelegramStandin, prometheus: str, **graphs_: float) -> config.Settings:
    base = fast_settings(telegram)
    return base.model_copy(
        update={
            "prometheus_url": prometheus,
            "graphs": config.Graphs.model_validate({"poll_seconds": 0.2, **graphs_}),
        }
    )


@contextmanager
def drawing(url: str, settings: config.Settings) -> Iterator[GraphWorker]:
    worker = GraphWorker(url, settings, name="graphs:test").start()
    try:
        yield worker
    finally:
        worker.stop(timeout=15)


def photos(telegram: TelegramStandin) -> list[Any]:
    return [m for m in telegram.sent() if m.photo is not None]


def test_a_p0_page_goes_at_once_and_its_graph_follows_as_a_reply_photo(
    database_url: str, telegram: TelegramStandin, prometheus: str
) -> None:
    settings = graph_settings(telegram, prometheus)
    queue_alerts(database_url, firing(prometheus), policy=GRAPHS)
    with running(database_url, settings), drawing(database_url, settings):
        photo = telegram.wait_for(lambda m: m.photo is not None, 20)
    page = next(m for m in telegram.sent() if m.photo is None)
    assert page.received_at < photo.received_at, "the text is never delayed by the graph"
    assert photo.reply_to == page.message_id, "the photo replies to the page"
    assert photo.photo is not None and png_size(photo.photo) == (1000, 560)
    assert "[P0] GlobalGuard BLOCK" in photo.text and photo.parse_mode == "HTML"
    ((state, drawn, threshold, note, render_ms),) = query(
        database_url, "SELECT state, expression, threshold, note, render_ms FROM alert_graph"
    )
    assert (state, drawn, threshold, note) == ("done", "prometheus_tsdb_head_series", "1", None)
    assert isinstance(render_ms, int) and 0 < render_ms < 10_000
    assert len(photos(telegram)) == 1


def test_a_p2_gets_no_graph_unless_named() -> None:
    assert config.Graphs().wanted("A", "P1") and not config.Graphs().wanted("A", "P2")
    named = config.Graphs(also=["A"], never=["B"])
    assert named.wanted("A", "P3") and not named.wanted("B", "P0")
    assert not config.Graphs(enabled=False).wanted("A", "P0")


@pytest.fixture
def silent_prometheus() -> Iterator[str]:
    """A port that accepts connections and never answers: Prometheus hung."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


def test_a_hung_prometheus_skips_the_graph_with_a_note_and_pages_keep_going(
    database_url: str, telegram: TelegramStandin, silent_prometheus: str, client: FlaskClient
) -> None:
    settings = graph_settings(telegram, silent_prometheus, timeout_seconds=2)
    with running(database_url, settings), drawing(database_url, settings):
        queue_alerts(database_url, firing(silent_prometheus), policy=GRAPHS)
        telegram.wait_for(lambda m: "GlobalGuard BLOCK" in m.text, 10)
        # The worker now waits on Prometheus; a second P0 must not wait with it.
        time.sleep(0.3)
        queued = time.monotonic()
        second = firing(silent_prometheus, "CrossSyncImbalance", fingerprint="b" * 16)
        queue_alerts(database_url, second, policy=GRAPHS)
        later = telegram.wait_for(lambda m: "CrossSyncImbalance" in m.text, 10)
        assert later.received_at - queued < 1.5, "a page never waits on a graph"
        wait_rows(database_url, "SELECT state FROM alert_graph", [("skipped",), ("skipped",)], 15)
    notes = [n for (n,) in query(database_url, "SELECT note FROM alert_graph")]
    assert notes == ["Prometheus did not answer within 2 s"] * 2
    assert photos(telegram) == []
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'd76_receiver_graphs{state="skipped"} 2.0' in metrics.splitlines()


def test_an_unreachable_prometheus_is_named_without_its_address(
    database_url: str, telegram: TelegramStandin
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://user:secret@127.0.0.1:{probe.getsockname()[1]}"
    settings = graph_settings(telegram, dead)
    queue_alerts(database_url, firing(dead), policy=GRAPHS)
    with drawing(database_url, settings):
        wait_rows(database_url, "SELECT state FROM alert_graph", [("skipped",)], 10)
    ((note,),) = query(database_url, "SELECT note FROM alert_graph")
    assert note == "Prometheus unreachable (ConnectError)"


def test_no_photo_once_the_alert_resolved(
    database_url: str, telegram: TelegramStandin, prometheus: str
) -> None:
    settings = graph_settings(telegram, prometheus)
    page = firing(prometheus)
    queue_alerts(database_url, page, policy=GRAPHS)
    with running(database_url, settings):
        telegram.wait_for(lambda m: "GlobalGuard BLOCK" in m.text, 10)
        resolved = {**page, "status": "resolved", "endsAt": datetime.now(UTC).isoformat()}
        queue_alerts(database_url, resolved, policy=GRAPHS)
        telegram.wait_for(lambda m: "RESOLVED" in m.text, 10)
        with drawing(database_url, settings):  # drawn after the resolve: for the history page only
            wait_rows(database_url, "SELECT state FROM alert_graph", [("done",)], 15)
        time.sleep(0.5)
    assert query(database_url, "SELECT count(*) FROM notification WHERE kind = 'graph'") == [(0,)]
    assert photos(telegram) == []


def test_a_queued_photo_is_cancelled_by_the_resolve(
    database_url: str, telegram: TelegramStandin, prometheus: str
) -> None:
    settings = graph_settings(telegram, prometheus)
    page = firing(prometheus)
    queue_alerts(database_url, page, policy=GRAPHS)
    with drawing(database_url, settings):
        wait_rows(database_url, "SELECT state FROM alert_graph", [("done",)], 15)
    assert query(database_url, "SELECT kind, state FROM notification ORDER BY id") == [
        ("firing", "queued"),
        ("graph", "queued"),
    ], "queued behind its page"
    resolved = {**page, "status": "resolved", "endsAt": datetime.now(UTC).isoformat()}
    queue_alerts(database_url, resolved, policy=GRAPHS)
    with running(database_url, settings):
        telegram.wait_for(lambda m: "RESOLVED" in m.text, 10)
        wait_rows(
            database_url,
            "SELECT state, last_error FROM notification WHERE kind = 'graph'",
            [("cancelled", "resolved before the graph went out")],
            10,
        )
    assert photos(telegram) == []


def test_an_acknowledged_page_still_gets_its_photo(
    database_url: str, telegram: TelegramStandin, prometheus: str
) -> None:
    """Whoever acknowledged is the one helped by the graph: an ack does not cancel it."""
    settings = graph_settings(telegram, prometheus)
    queue_alerts(database_url, firing(prometheus), policy=GRAPHS)
    with running(database_url, settings):
        page = telegram.wait_for(lambda m: "GlobalGuard BLOCK" in m.text, 10)
        conn = store.connect(database_url)
        try:
            assert store.acknowledge(conn, 1, "telegram:@alice")
        finally:
            conn.close()
        with drawing(database_url, settings):
            photo = telegram.wait_for(lambda m: m.photo is not None, 20)
    assert photo.reply_to == page.message_id


def test_a_worker_that_dies_mid_graph_frees_it_and_its_late_result_is_refused(
    database_url: str, prometheus: str
) -> None:
    queue_alerts(database_url, firing(prometheus), policy=GRAPHS)
    conn = psycopg2.connect(database_url)
    try:
        first = graphs.claim(conn, owner="w1", lease_seconds=0.2, max_attempts=2)
        assert first is not None and first.attempt == 1
        assert graphs.claim(conn, owner="w2", lease_seconds=0.2, max_attempts=2) is None
        time.sleep(0.3)  # w1 died: its lease runs out
        second = graphs.claim(conn, owner="w2", lease_seconds=0.2, max_attempts=2)
        assert second is not None and second.attempt == 2
        late = graphs.done(
            conn, first, png=b"\x89PNG", expression="x", threshold=None, render_ms=1,
            photo_within_seconds=60,
        )  # fmt: skip
        assert late is None, "the lost claim changes nothing"
        time.sleep(0.3)  # w2 died too: the graph is given up, not retried forever
        assert graphs.claim(conn, owner="w3", lease_seconds=0.2, max_attempts=2) is None
    finally:
        conn.close()
    assert query(database_url, "SELECT state, note FROM alert_graph") == [
        ("skipped", "the graph worker stopped 2 times while drawing it")
    ]


@pytest.mark.parametrize(
    ("status", "description"),
    [(400, "Bad Request: not enough rights to send photos to the chat"), (502, "Bad Gateway")],
    ids=["permanent", "transient"],
)
def test_a_photo_that_fails_is_not_retried_and_holds_up_no_page(
    database_url: str, telegram: TelegramStandin, prometheus: str, status: int, description: str
) -> None:
    settings = graph_settings(telegram, prometheus)
    queue_alerts(database_url, firing(prometheus), policy=GRAPHS)
    telegram.fail_next(1, status, description, method="sendPhoto")
    with running(database_url, settings), drawing(database_url, settings):
        wait_rows(
            database_url,
            "SELECT state FROM notification WHERE kind = 'graph'",
            [("cancelled",)],
            20,
        )
        queued = time.monotonic()
        second = firing(prometheus, "CrossSyncImbalance", fingerprint="c" * 16)
        queue_alerts(database_url, second, policy=GRAPHS)
        page = telegram.wait_for(lambda m: "CrossSyncImbalance" in m.text, 10)
        assert page.received_at - queued < 1.5, "the chat was not paused by the photo"
    ((error,),) = query(database_url, "SELECT last_error FROM notification WHERE id = 2")
    assert str(error).startswith("graph not sent: telegram: ")
    assert query(database_url, "SELECT count(*) FROM notification WHERE state = 'failed'") == [(0,)]
    assert query(database_url, "SELECT count(*) FROM destination WHERE failures > 0") == [(0,)]


def test_an_answer_too_large_is_refused_not_parsed(
    database_url: str, telegram: TelegramStandin, prometheus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of series would be read and parsed inside the dispatcher's process: past
    MAX_BYTES of answer the graph is skipped (the cap lowered here to the size of a few)."""
    monkeypatch.setattr(graph_prometheus, "MAX_BYTES", 64)
    queue_alerts(database_url, firing(prometheus), policy=GRAPHS)
    with drawing(database_url, graph_settings(telegram, prometheus)):
        wait_rows(database_url, "SELECT state FROM alert_graph", [("skipped",)], 10)
    ((note,),) = query(database_url, "SELECT note FROM alert_graph")
    assert str(note).startswith("Prometheus answered over"), note
