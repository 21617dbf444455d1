"""Batch ingest: one webhook request is one statement per table, however many alerts it holds,
and a large mixed batch is stored exactly as alert-by-alert requests would store it."""

from __future__ import annotations

import io
import re
from collections import Counter
from typing import Any

import psycopg2
import psycopg2.extras

from receiver import store
from receiver.webhook_parser import parse
from tests.support.database import query
from tests.support.payloads import alert, payload

TARGETS = ["telegram", "slack_critical"]
RESOLVED_AT = "2026-11-24T03:05:00.000Z"


class _Counting(psycopg2.extras.LoggingConnection):
    """A connection that counts its statements by verb and table (and logs nothing)."""

    statements: Counter[str]

    def filter(self, msg: bytes | str, curs: object) -> None:
        text = msg.decode() if isinstance(msg, bytes) else msg
        words = re.sub(r"\s+", " ", text.strip()).split(" ")
        verb = words[0].upper()
        table = {"INSERT": words[2:3], "UPDATE": words[1:2]}.get(verb, [])
        self.statements[" ".join([verb, *table])] += 1


def _ingest(database_url: str, alerts: list[dict[str, Any]]) -> tuple[Counter[str], Any]:
    """Ingest one payload; return its statements by verb and table, and the result."""
    conn = psycopg2.connect(database_url, connection_factory=_Counting)
    assert isinstance(conn, _Counting)
    conn.statements = Counter()
    try:
        conn.initialize(io.StringIO())
        result = store.ingest(conn, parse(payload(*alerts)), TARGETS)
    finally:
        conn.close()
    return conn.statements, result


def _alerts(count: int, first: int = 0, **kwargs: Any) -> list[dict[str, Any]]:
    return [
        alert("RouteScoreLow", severity="P2", fingerprint=f"{i:016x}", **kwargs)
        for i in range(first, first + count)
    ]


def test_a_request_is_one_statement_per_table_whatever_its_size(database_url: str) -> None:
    small, one = _ingest(database_url, _alerts(1))
    # 250 alerts: more than a page of psycopg2's execute_values (100), which split batches.
    large, many = _ingest(database_url, _alerts(250, first=1))
    assert one.new == 1 and many.new == 250
    assert (
        small
        == large
        == Counter({"SELECT": 1, "INSERT alert_history": 1, "INSERT notification": 1, "NOTIFY": 1})
    )
    assert query(database_url, "SELECT count(*) FROM alert_history") == [(251,)]
    assert query(database_url, "SELECT count(*) FROM notification") == [(502,)]


def test_a_mixed_batch_is_one_statement_per_table_and_kind(database_url: str) -> None:
    _ingest(database_url, _alerts(150))
    # 150 resolves, 150 new firings and one occurrence repeated (no message): one request.
    resolves = _alerts(150, status="resolved", ends_at=RESOLVED_AT)
    new = [alert("ExchangeDown", severity="P1", fingerprint=f"b{i:015x}") for i in range(150)]
    kinds, result = _ingest(database_url, [*resolves, *new, resolves[0]])
    assert (result.alerts, result.new, result.resolved, result.queued) == (300, 150, 150, 600)
    assert kinds == Counter(
        {
            "SELECT": 1,
            "INSERT alert_history": 1,
            "UPDATE alert_history": 1,
            "UPDATE notification": 1,  # the resolved alerts' unsent firings are superseded
            "UPDATE escalation": 1,  # their escalation timers end
            "UPDATE mute": 1,  # their mutes' silences are to be expired
            "INSERT notification": 1,
            "NOTIFY": 1,
        }
    )
    assert query(
        database_url, "SELECT kind, state, count(*) FROM notification GROUP BY 1, 2 ORDER BY 1, 2"
    ) == [("firing", "queued", 300), ("firing", "superseded", 300), ("resolved", "queued", 300)]
    # The same request again changes nothing and queues nothing.
    again, repeat = _ingest(database_url, [*resolves, *new])
    assert (repeat.new, repeat.resolved, repeat.queued) == (0, 0, 0)
    assert again == Counter({"SELECT": 1})


def test_a_batch_keeps_every_column_as_alert_by_alert_requests_do(database_url: str) -> None:
    one = alert(
        labels={"exchange": "Upbit", "quote": 'say "hi"\nüñí'},
        annotations={"summary": "x" * 300, "description": "Loss: $55000", "action": "HALT"},
    )
    _ingest(database_url, [one])
    rows = query(
        database_url,
        """SELECT timestamp = starts_at, severity, source, length(title), message, metadata,
                  labels->>'quote', annotations->>'action', generator_url, receiver, episode,
                  ends_at, status
             FROM alert_history""",
    )
    assert rows == [
        (
            True,
            "P0",
            "RiskGuard",
            200,
            "Loss: $55000",  # the webhook formats amounts; the store keeps what it is given
            {"groupKey": payload()["groupKey"], "externalURL": "http://127.0.0.1:9093"},
            'say "hi"\nüñí',
            "HALT",
            "http://127.0.0.1:9090/graph?g0.expr=x",
            "d76-p0",
            1,
            None,
            "firing",
        )
    ]
