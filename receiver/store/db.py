"""Connections, migrations and the wake-up channel: what every other store module stands on.

Connections are plain psycopg2 connections; callers own transactions through ``with conn:``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extensions

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
log = logging.getLogger("d76.store")
OUTBOX_CHANNEL = "d76_outbox"  # NOTIFY channel the dispatcher LISTENs on

# Errors that mean "the database is not there right now": the caller answers 503 or retries.
UNAVAILABLE = (psycopg2.OperationalError, psycopg2.InterfaceError)

Connection = psycopg2.extensions.connection


def connect(dsn: str, *, connect_timeout: int = 5) -> Connection:
    return psycopg2.connect(dsn, connect_timeout=connect_timeout, application_name="d76-receiver")


def migrate(dsn: str, *, wait_seconds: float = 30.0) -> int:
    """Apply pending migrations under yoyo's lock (safe to run concurrently and twice).

    Waits up to ``wait_seconds`` for the database to accept connections, and makes the
    partitions of the coming months (``store.partitions``). Returns how many migrations were
    applied.
    """
    from yoyo import get_backend, read_migrations

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            backend = get_backend(dsn)  # postgresql:// selects yoyo's psycopg2 backend
            break
        except UNAVAILABLE:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    from receiver.store import partitions

    conn = connect(dsn)
    try:
        partitions.ensure(conn)  # this month's and the next ones' partitions, if missing
    except psycopg2.errors.LockNotAvailable:  # a long query holds the table: the chore will
        log.warning("partitions not made now (the history is busy); the dispatcher retries")
    finally:
        conn.close()
    return len(pending)


def listen(conn: Connection) -> None:
    """Subscribe an autocommit connection to new-work notifications."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"LISTEN {OUTBOX_CHANNEL}")


def notify(conn: Connection) -> None:
    """Wake the dispatchers, in a transaction of its own: a NOTIFY inside a storing
    transaction would serialise every commit (and its fsync) on the notify queue lock."""
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"NOTIFY {OUTBOX_CHANNEL}")
    finally:
        conn.autocommit = False


def try_singleton_lock(conn: Connection, name: str) -> bool:
    """A session-level advisory lock: held until ``conn`` closes (one holder across processes)."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (name,))
        (locked,) = cur.fetchone() or (False,)
    conn.autocommit = False
    return bool(locked)
