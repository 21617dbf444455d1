"""/metrics costs the same whatever the size of the history: over a history of 20,000
delivered notifications, the statements of a scrape read only a handful of rows of the
growing tables (the backlog, a time window, the attempts since the previous scrape), measured
with EXPLAIN ANALYZE; and the totals stay right."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg2
import psycopg2.extensions
import pytest
from prometheus_client import CollectorRegistry

from receiver import store
from receiver.store import outbox
from receiver.web import metrics
from receiver.web.metrics import DeliveryStateCollector
from receiver.webhook_parser import parse
from tests.support.database import query
from tests.support.payloads import alert, payload

GROWING = {"notification", "notification_attempt", "alert_history"}
HISTORY = 20_000


def _rows_read(node: dict[str, Any]) -> int:
    """Rows the plan node and its children read from the growing tables."""
    own = 0
    if node.get("Relation Name") in GROWING:
        loops = int(node.get("Actual Loops", 1))
        own = (int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0))) * loops
    return own + sum(_rows_read(child) for child in node.get("Plans", []))


def _bulk_history(cur: psycopg2.extensions.cursor, alert_id: int) -> None:
    cur.execute(
        """INSERT INTO notification (alert_id, alert_ts, kind, target, priority, state,
                                     attempts, created_at, sent_at, message_id, fingerprint)
           SELECT a.id, a.timestamp, 'firing', 'bulk' || g, 2, 'sent', 1,
                  now() - interval '2 days', now() - interval '2 days', g::text, 'bulk'
             FROM alert_history a, generate_series(1, %s) g WHERE a.id = %s""",
        (HISTORY, alert_id),
    )
    cur.execute(
        """INSERT INTO notification_attempt (notification_id, alert_ts, attempted_at, outcome,
                                             duration_ms)
           SELECT id, alert_ts, now() - interval '2 days', 'sent', 5 FROM notification
            WHERE target LIKE 'bulk%%'"""
    )
    cur.execute("ANALYZE notification")
    cur.execute("ANALYZE notification_attempt")


class _Recording(psycopg2.extensions.cursor):
    statements: ClassVar[list[str]] = []

    def execute(self, query: Any, vars: Any = None) -> None:
        _Recording.statements.append(self.mogrify(query, vars).decode())
        super().execute(query, vars)


def _collector(url: str) -> DeliveryStateCollector:
    @contextmanager
    def connection() -> Iterator[psycopg2.extensions.connection]:
        conn = psycopg2.connect(url, cursor_factory=_Recording)
        try:
            yield conn
        finally:
            conn.close()

    return DeliveryStateCollector(connection)


def _samples(collector: DeliveryStateCollector) -> dict[tuple[str, tuple[str, ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    return {
        (s.name, tuple(sorted(s.labels.values()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


def test_a_scrape_reads_a_bounded_number_of_rows_whatever_the_history(database_url: str) -> None:
    conn = psycopg2.connect(database_url)
    try:
        store.ingest(conn, parse(payload(alert())), ["telegram", "slack_critical"])
        item = outbox.claim(conn, owner="test", lease_seconds=60)
        other = outbox.claim(conn, owner="test", lease_seconds=60)
        assert item is not None and other is not None
        outbox.record_retry(conn, item, "telegram: TimedOut", 0, 5, throttled=False)
        outbox.record_sent(conn, other, None, 5)
        with conn, conn.cursor() as cur:
            _bulk_history(cur, item.alert_id)
    finally:
        conn.close()
    collector = _collector(database_url)
    _samples(collector)  # the first scrape after start reads the attempts once
    _Recording.statements = []
    samples = _samples(collector)
    assert samples[("d76_receiver_notifications", ("queued", "telegram"))] == 1
    assert samples[("d76_receiver_notifications", ("sent", "slack_critical"))] == 1
    assert sum(v for (name, labels), v in samples.items() if "sent" in labels) == HISTORY + 1
    assert samples[("d76_receiver_delivery_retries_total", ("telegram",))] == 1
    assert _Recording.statements

    plans = psycopg2.connect(database_url)
    try:
        with plans, plans.cursor() as cur:
            for statement in _Recording.statements:
                cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}")
                (plan,) = cur.fetchone() or (None,)
                read = _rows_read(plan[0]["Plan"])
                assert read < 100, f"{read} rows read by:\n{statement}\n{plan}"
    finally:
        plans.close()


def test_after_a_restart_the_totals_catch_up_over_a_few_bounded_scrapes(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = psycopg2.connect(database_url)
    try:
        store.ingest(conn, parse(payload(alert())), ["telegram"])
        (alert_id,) = query(database_url, "SELECT id FROM alert_history")[0]
        with conn, conn.cursor() as cur:
            _bulk_history(cur, int(str(alert_id)))
    finally:
        conn.close()
    monkeypatch.setattr(metrics, "CATCH_UP_IDS", HISTORY // 4)
    collector = _collector(database_url)
    seen = []
    for _ in range(8):  # each scrape folds in at most a quarter of the history
        samples = _samples(collector)
        seen.append(sum(v for (name, labels), v in samples.items() if "sent" in labels))
    assert seen[0] < HISTORY, "the first scrape read the whole history"
    assert seen[-1] == HISTORY and seen == sorted(seen)
