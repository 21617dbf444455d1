"""Server-side prepared statements for the webhook's hot path: planned once per connection.

With monthly partitions, planning a statement costs more than running it (ingest's lookup of
known occurrences: 1.3 ms to plan, 0.1 ms to run, over five partitions a table). A prepared
statement is planned once per connection; the webhook's pool runs them with generic plans
(``plan_cache_mode=force_generic_plan``, see ``web/app.py``), whose partition pruning happens at
execution. Elsewhere (the CLI, the tests) PostgreSQL chooses, as for any prepared statement.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg2.extensions

# The statements each connection has prepared (forgotten with the connection).
_prepared: weakref.WeakKeyDictionary[psycopg2.extensions.connection, set[str]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Statement:
    name: str  # d76_<verb>_<table>: what it does, where
    types: tuple[str, ...]  # of $1, $2, ...
    sql: str


def execute(
    cur: psycopg2.extensions.cursor, statement: Statement, params: Sequence[object]
) -> None:
    """Run ``statement`` with ``params``, preparing it on this connection the first time."""
    with _lock:
        known = _prepared.setdefault(cur.connection, set())
    if statement.name not in known:
        cur.execute(f"PREPARE {statement.name} ({', '.join(statement.types)}) AS {statement.sql}")
        known.add(statement.name)
    placeholders = ", ".join(["%s"] * len(params))
    cur.execute(f"EXECUTE {statement.name} ({placeholders})", tuple(params))
