"""A real PostgreSQL for the session (a private cluster, migrated once), emptied for each test
that asks for ``database_url``; and the helpers that read it or fill it."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from receiver import store
from receiver.webhook_parser import parse
from stack.postgres import PrivatePostgres
from stack.procs import ManagedProcess
from tests.support.payloads import payload
from tests.support.ports import free_port

TABLES = (  # children before the tables they refer to
    "notification_attempt, alert_action, notification, alert_history, digest, channel_send, "
    "daily_summary, heartbeat, destination, delivery_totals, delivery_totals_mark, "
    "escalation, mute, maintenance_window, alert_graph"
)


@pytest.fixture(scope="session")
def state_root() -> Iterator[Path]:
    """A scratch directory the `postgres` user can enter (pytest's tmp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="d76-tests-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(state_root: Path) -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres(state_root / "pg" / "data", free_port(), state_root / "pg.log")
    pg.initialize()
    proc: ManagedProcess = pg.process()
    proc.start()
    try:
        proc.wait_ready(pg.accepting, 60)
        pg.create_database()
        store.migrate(pg.url)
        yield pg
    finally:
        proc.stop()


@pytest.fixture
def database_url(postgres: PrivatePostgres) -> str:
    """The session database, emptied for this test."""
    empty_tables(postgres.url)
    return postgres.url


def empty_tables(url: str) -> None:
    """Every table emptied and its id sequence started again. DELETE rather than TRUNCATE: the
    history's tables are partitioned by month (some twenty tables), and truncating them all costs
    about 120 ms where deleting a test's few rows costs a few."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            for table in TABLES.split(", "):
                cur.execute(f"DELETE FROM {table}")
            cur.execute(
                """SELECT setval(pg_get_serial_sequence(c.table_name, 'id'), 1, false)
                     FROM information_schema.columns c
                    WHERE c.table_schema = current_schema() AND c.column_name = 'id'
                      AND c.table_name = ANY(%s)""",
                (TABLES.split(", "),),
            )
    finally:
        conn.close()


def query(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def wait_rows(url: str, sql: str, expected: list[tuple[object, ...]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline:
        rows = query(url, sql)
        if rows == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"{sql!r} gave {rows}, expected {expected}")


def store_alerts(url: str, *alerts: dict[str, Any], targets: list[str] | None = None) -> None:
    """Store ``alerts`` in the history as the webhook does; notify no one unless ``targets``."""
    conn = psycopg2.connect(url)
    try:
        store.ingest(conn, parse(payload(*alerts)), targets or [])
    finally:
        conn.close()
