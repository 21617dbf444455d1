"""Monthly partitions of the history and its outbox: made ahead, shared by an alert and
everything about it, an occurrence unique across them, retention by dropping whole months."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest

from receiver import store
from receiver.store import outbox, partitions
from receiver.store.graphs import Wanted
from receiver.webhook_parser import parse
from tests.support.database import query
from tests.support.payloads import alert, payload

TABLES = ("alert_history", "notification", "notification_attempt", "alert_action")


@pytest.fixture(autouse=True)
def _same_months_after(database_url: str) -> Iterator[None]:
    """The months a test adds are dropped after it: more partitions make every later test's
    statements slower to plan."""
    conn = store.connect(database_url)
    try:
        before = set(partitions.months_of(conn, "alert_history"))
        yield
        for month in set(partitions.months_of(conn, "alert_history")) - before:
            partitions.drop_month(conn, month)
        for month in before - set(partitions.months_of(conn, "alert_history")):
            partitions.ensure(conn, 0, today=month)  # a month pruned by the test comes back
    finally:
        conn.close()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _ingest(database_url: str, *alerts: dict[str, object]) -> store.IngestResult:
    conn = store.connect(database_url)
    try:
        policy = store.IngestPolicy(graphs=Wanted(("P0",)))  # graphs go with their alerts
        return store.ingest(conn, parse(payload(*alerts)), ["telegram", "slack_critical"], policy)
    finally:
        conn.close()


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def test_this_month_and_the_next_ones_have_partitions_in_every_table(database_url: str) -> None:
    this_month = datetime.now(UTC).date().replace(day=1)
    conn = store.connect(database_url)
    try:
        assert partitions.ensure(conn) == 0  # migrate made them; again changes nothing
        for table in TABLES:
            months = partitions.months_of(conn, table)
            assert {_add_months(this_month, k) for k in range(4)} <= set(months), table
        ahead = max(partitions.months_of(conn, "alert_history"))
        count = (ahead.year - this_month.year) * 12 + ahead.month - this_month.month
        assert partitions.ensure(conn, count + 2) == 2 * len(TABLES)  # two more months, each
        assert max(partitions.months_of(conn, "notification")) == _add_months(ahead, 2)
    finally:
        conn.close()
    defaults = query(
        database_url,
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE c.relname LIKE '%%\\_default' ORDER BY 1""",
    )
    assert [name for (name,) in defaults] == sorted(f"{t}_default" for t in TABLES)


def test_an_alert_and_everything_about_it_share_its_month(database_url: str) -> None:
    now = datetime.now(UTC)
    result = _ingest(database_url, alert(fingerprint="a1", starts_at=_iso(now)))
    assert result.new == 1
    conn = store.connect(database_url)
    try:
        item = outbox.claim(conn, owner="test", lease_seconds=60)
        assert item is not None
        outbox.record_sent(conn, item, "m1", 5)
        (alert_id,) = query(database_url, "SELECT id FROM alert_history")[0]
        assert store.acknowledge(conn, int(str(alert_id)), "alice")
    finally:
        conn.close()
    month = f"p{now:%Y_%m}"
    homes = {
        table: {
            name
            for (name,) in query(
                database_url, f"SELECT DISTINCT tableoid::regclass::text FROM {table}"
            )
        }
        for table in TABLES
    }
    assert homes == {table: {f"{table}_{month}"} for table in TABLES}


def test_an_occurrence_is_unique_across_partitions_and_old_months_go_to_default(
    database_url: str,
) -> None:
    old = _iso(datetime.now(UTC) - timedelta(days=900))  # older than every partition
    assert _ingest(database_url, alert(fingerprint="f1", starts_at=old)).new == 1
    assert _ingest(database_url, alert(fingerprint="f1", starts_at=old)).new == 0
    resolved = alert(fingerprint="f1", starts_at=old, status="resolved")
    assert _ingest(database_url, resolved).resolved == 1
    assert _ingest(database_url, alert(fingerprint="f1", starts_at=old)).refired == 1
    assert query(
        database_url,
        "SELECT episode, status, tableoid::regclass::text FROM alert_history ORDER BY episode",
    ) == [(1, "resolved", "alert_history_default"), (2, "firing", "alert_history_default")]
    # The occurrence's key holds its partition key: the unique index is the occurrence's.
    with pytest.raises(psycopg2.errors.UniqueViolation):
        query(
            database_url,
            """INSERT INTO alert_history (timestamp, severity, source, title, message,
                      fingerprint, alertname, status, starts_at, labels, annotations, episode)
               SELECT timestamp, severity, source, title, message, fingerprint, alertname,
                      status, starts_at, labels, annotations, episode
                 FROM alert_history WHERE episode = 2""",
        )
    with pytest.raises(psycopg2.errors.CheckViolation):  # timestamp is the alert's startsAt
        query(
            database_url,
            """UPDATE alert_history SET timestamp = now() WHERE episode = 2""",
        )


def test_a_month_whose_alerts_wait_in_default_stays_there(database_url: str) -> None:
    far = datetime.now(UTC).replace(day=15) + timedelta(days=31 * 10)  # beyond those made
    assert _ingest(database_url, alert(fingerprint="x1", starts_at=_iso(far))).new == 1
    conn = store.connect(database_url)
    try:
        made = partitions.ensure(conn, 11)  # would make far's month: it holds a row in default
        months = partitions.months_of(conn, "alert_history")
    finally:
        conn.close()
    assert far.date().replace(day=1) not in months
    assert made > 0  # the months before it were made
    assert _ingest(database_url, alert(fingerprint="x2", starts_at=_iso(far))).new == 1
    assert query(database_url, "SELECT DISTINCT tableoid::regclass::text FROM alert_history") == [
        ("alert_history_default",)
    ]


def test_prune_drops_whole_months_and_deletes_the_rest(database_url: str) -> None:
    now = datetime.now(UTC)
    conn = store.connect(database_url)
    try:
        # Fourteen months back (a server migrated long ago has them): old months to drop.
        partitions.ensure(conn, 0, today=_add_months(now.date().replace(day=1), -14))
        for back in range(14, 0, -1):
            partitions.ensure(conn, 0, today=_add_months(now.date().replace(day=1), -back))
    finally:
        conn.close()
    ages = (500, 450, 420, 401, 399, 30, 0)  # days; retention 400
    alerts = [
        alert(fingerprint=f"age{days}", starts_at=_iso(now - timedelta(days=days, minutes=1)))
        for days in ages
    ]
    assert _ingest(database_url, *alerts).new == len(ages)
    conn = store.connect(database_url)
    try:
        for _ in ages:  # every alert told to telegram: an attempt each
            item = outbox.claim(conn, owner="test", lease_seconds=60)
            assert item is not None
            outbox.record_sent(conn, item, "m", 5)
        for (alert_id,) in query(database_url, "SELECT id FROM alert_history"):
            assert store.acknowledge(conn, int(str(alert_id)), "alice")
        months_before = len(partitions.months_of(conn, "alert_history"))
        pruned = store.prune(conn, 400)
        months_after = partitions.months_of(conn, "alert_history")
    finally:
        conn.close()
    assert pruned.alerts == 4
    assert pruned.months == months_before - len(months_after) > 0
    assert min(months_after) == (now - timedelta(days=400)).date().replace(day=1)
    kept = {f"age{days}" for days in ages if days < 400}
    assert {fp for (fp,) in query(database_url, "SELECT fingerprint FROM alert_history")} == kept
    assert query(database_url, "SELECT count(*) FROM alert_graph") == [(len(kept),)]
    for table in (*TABLES[1:], "alert_graph"):  # nothing about a pruned alert is left
        orphans = query(
            database_url,
            f"""SELECT count(*) FROM {table} t WHERE NOT EXISTS
                  (SELECT 1 FROM alert_history a WHERE a.timestamp = t.alert_ts)""",
        )
        assert orphans == [(0,)], table
    assert query(database_url, "SELECT count(*) FROM notification") == [(2 * len(kept),)]
