"""Migration 0011 converts a database with history into the partitioned one, keeping every row
(ids, times, states, attempts, actions) and the sequences; the product then works on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from yoyo import get_backend, read_migrations
from yoyo.migrations import MigrationList

from receiver import store
from receiver.store import partitions
from receiver.webhook_parser import parse
from stack.postgres import PrivatePostgres
from tests.support.database import query
from tests.support.payloads import alert, payload

BEFORE = "0011"  # the migration under test: the database is made with those before it
EVERY = """
SELECT 'alert', id, timestamp::text, fingerprint || '/' || status || '/' || episode
  FROM alert_history
UNION ALL
SELECT 'notification', id, alert_id::text, kind || '/' || target || '/' || state FROM notification
UNION ALL
SELECT 'attempt', id, notification_id::text, outcome FROM notification_attempt
UNION ALL
SELECT 'action', id, alert_id::text, action || '/' || actor FROM alert_action
ORDER BY 1, 2
"""


@pytest.fixture
def old_database(postgres: PrivatePostgres) -> Iterator[str]:
    """A database of its own, migrated up to (not including) 0011."""
    admin = psycopg2.connect(postgres.url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS d76_migration")
        cur.execute("CREATE DATABASE d76_migration")
    url = postgres.url.rsplit("/", 1)[0] + "/d76_migration"
    backend = get_backend(url)
    earlier = MigrationList(
        [m for m in read_migrations(str(store.MIGRATIONS_DIR)) if m.id < BEFORE]
    )
    with backend.lock():
        backend.apply_migrations(backend.to_apply(earlier))
    backend.connection.close()
    try:
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS d76_migration WITH (FORCE)")
        admin.close()


def _fill(url: str) -> None:
    """History as the version before wrote it: recent and old alerts, their notifications,
    attempts and actions, written through the old schema."""
    now = datetime.now(UTC)
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        for index, days in enumerate((0, 3, 40, 200, 399, 700)):
            started = now - timedelta(days=days, minutes=index)
            cur.execute(
                """INSERT INTO alert_history (timestamp, severity, source, title, message,
                          fingerprint, alertname, status, starts_at, labels, annotations, episode,
                          acknowledged)
                   VALUES (%s, 'P1', 'RiskGuard', 't', 'm', %s, 'A', 'firing', %s, '{}', '{}',
                           1, %s)
                   RETURNING id""",
                (started, f"fp{index}", started, index % 2 == 0),
            )
            (alert_id,) = cur.fetchone() or (0,)
            for target in ("telegram", "slack_critical"):
                cur.execute(
                    """INSERT INTO notification (alert_id, kind, target, priority, fingerprint,
                              state)
                       VALUES (%s, 'firing', %s, 1, %s, 'sent') RETURNING id""",
                    (alert_id, target, f"fp{index}"),
                )
                (notification_id,) = cur.fetchone() or (0,)
                cur.execute(
                    """INSERT INTO notification_attempt (notification_id, outcome, duration_ms)
                       VALUES (%s, 'retry', 5), (%s, 'sent', 7)""",
                    (notification_id, notification_id),
                )
            cur.execute(
                "INSERT INTO alert_action (alert_id, action, actor) VALUES (%s, 'ack', 'alice')",
                (alert_id,),
            )
    conn.close()


def test_a_database_with_history_is_converted_keeping_every_row(old_database: str) -> None:
    _fill(old_database)
    before = query(old_database, EVERY)
    assert len(before) == 6 + 12 + 24 + 6

    assert store.migrate(old_database) >= 1

    assert query(old_database, EVERY) == before
    # Each row sits in its alert's month (the 700-day-old alert in the default partition).
    homes = query(
        old_database,
        """SELECT a.fingerprint, a.tableoid::regclass::text, n.tableoid::regclass::text,
                  t.tableoid::regclass::text, c.tableoid::regclass::text
             FROM alert_history a
             JOIN notification n ON n.alert_id = a.id AND n.target = 'telegram'
             JOIN notification_attempt t ON t.notification_id = n.id AND t.outcome = 'sent'
             JOIN alert_action c ON c.alert_id = a.id
            ORDER BY a.fingerprint""",
    )
    for fingerprint, *tables in homes:
        names = [str(table) for table in tables]
        shared = {"default" if n.endswith("_default") else n.rsplit("_p", 1)[1] for n in names}
        assert len(shared) == 1, (fingerprint, names)  # the four rows share one partition
        assert (shared == {"default"}) == (fingerprint == "fp5"), (fingerprint, names)

    conn = store.connect(old_database)
    try:
        months = partitions.months_of(conn, "alert_history")
        assert len(months) >= 14  # the data's months of the last 400 days and three ahead
        (max_id,) = query(old_database, "SELECT max(id) FROM alert_history")[0]
        fresh = alert(fingerprint="new", starts_at=datetime.now(UTC).isoformat())
        result = store.ingest(conn, parse(payload(fresh)), ["telegram"])
        assert result.new == 1 and result.queued == 1
        (new_id,) = query(old_database, "SELECT id FROM alert_history WHERE fingerprint = 'new'")[0]
        assert int(str(new_id)) > int(str(max_id))  # the sequences go on
        (fp0_start,) = query(
            old_database, "SELECT starts_at FROM alert_history WHERE fingerprint = 'fp0'"
        )[0]
        assert isinstance(fp0_start, datetime)
        again = alert(fingerprint="fp0", starts_at=fp0_start.isoformat())
        assert store.ingest(conn, parse(payload(again)), ["telegram"]).new == 0  # still known
        pruned = store.prune(conn, 400)
    finally:
        conn.close()
    assert pruned.alerts == 1  # the 700-day-old one, from the default partition
    assert query(old_database, "SELECT count(*) FROM notification WHERE fingerprint = 'fp5'") == [
        (0,)
    ]
