"""The receiver's own metrics, declared in one place, served at /metrics.

Counters are counted by each web worker and summed across them at scrape time (multiprocess
mode, ``receiver/web/multiproc.py``). Delivery state is read from PostgreSQL at scrape time,
once per scrape by whichever worker answers, so it is right whichever dispatcher process did
the work, with queries whose cost does not grow with the history (see
``DeliveryStateCollector``).
"""

from __future__ import annotations

import logging
from collections import Counter as Counter_
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import psycopg2.extensions
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from receiver.model import GraphState
from receiver.store import escalation_views as escalation
from receiver.store import graphs
from receiver.web import multiproc

log = logging.getLogger("d76.receiver")


class ReceiverMetrics:
    """The web process's own metrics; ``registry`` is what /metrics serves.

    Under ``serve`` (multiprocess mode) each worker's values go to its files and ``registry``
    reads every worker's; in a single process (the tests' app) they are registered in it.
    """

    def __init__(self) -> None:
        shared = multiproc.enabled()
        self.registry: CollectorRegistry = (
            multiproc.scrape_registry() if shared else CollectorRegistry()
        )
        registry = None if shared else self.registry
        self.webhook_requests = Counter(
            "d76_receiver_webhook_requests_total",
            "Alertmanager webhook requests, by HTTP status code answered.",
            ["code"],
            registry=registry,
        )
        # Born at 0 for the codes the webhook answers, so that the first 5xx is an increase
        # (rule D76WebhookErrors); any other code still appears on first use.
        for code in ("200", "400", "401", "413", "500", "503"):
            self.webhook_requests.labels(code)
        self.alerts_received = Counter(
            "d76_receiver_alerts_received_total",
            "Alerts received in accepted webhook payloads, by status (firing/resolved).",
            ["status"],
            registry=registry,
        )
        self.notifications_queued = Counter(
            "d76_receiver_notifications_queued_total",
            "Notifications queued for delivery by the webhook.",
            registry=registry,
        )
        # livesum: each live worker adds its 1 (a dead worker's is removed by child_exit), so
        # the gauge is how many workers serve now, whichever of them is scraped.
        self.workers = Gauge(
            "d76_receiver_web_workers",
            "Web worker processes of this receiver serving now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.workers.set(1)


# Attempts younger than this are counted on every scrape and folded into the running totals
# only after it: a dispatcher's transaction that is still open cannot be skipped.
SETTLE_SECONDS = 30
# Attempt outcomes that put a notification back in the queue (receiver/store/outbox.py).
RETRIED_OUTCOMES = ("retry", "throttled", "unknown")

_BACKLOG = """
SELECT state, target, count(*) FROM notification WHERE state IN ('queued', 'sending')
 GROUP BY 1, 2
UNION ALL
SELECT 'failed', target, count(*) FROM notification WHERE state = 'failed' GROUP BY 2
UNION ALL
SELECT 'folded', target, count(*) FROM notification
 WHERE state = 'folded' AND digest_id IS NULL GROUP BY 2
"""
# A scrape folds at most this many attempt ids into the totals: over a long history (the
# first scrape after this table appeared) the totals catch up over a few scrapes instead of one
# scrape timing out (and then every later one, the totals never moving).
CATCH_UP_IDS = 100_000
# The scrape that gets the mark's row lock folds settled attempts into the totals; a concurrent
# scrape (another worker, the other receiver) reads the totals as they are.
_MARK = "SELECT settled_id FROM delivery_totals_mark FOR UPDATE SKIP LOCKED"
_SETTLED_UP_TO = """
SELECT max(id) FILTER (WHERE attempted_at < now() - make_interval(secs => %(settle)s)),
       count(*),
       EXISTS (SELECT 1 FROM notification_attempt WHERE id > %(cap)s)
  FROM notification_attempt
 WHERE id > %(after)s AND id <= %(cap)s
"""
_FOLD = """
INSERT INTO delivery_totals (target, outcome, count)
SELECT n.target, a.outcome, count(*)
  FROM notification_attempt a
  JOIN notification n ON n.id = a.notification_id AND n.alert_ts = a.alert_ts
 WHERE a.id > %(after)s AND a.id <= %(upto)s
 GROUP BY 1, 2
ON CONFLICT (target, outcome) DO UPDATE SET count = delivery_totals.count + EXCLUDED.count
"""
_SETTLE = "UPDATE delivery_totals_mark SET settled_id = %s"
# One statement, one snapshot: the mark and the totals it stands for.
_TOTALS = """
SELECT m.settled_id, t.target, t.outcome, t.count
  FROM delivery_totals_mark m LEFT JOIN delivery_totals t ON TRUE
"""
# The mark's row is gone (a TRUNCATE): count from the start again.
_RESTORE_MARK = """INSERT INTO delivery_totals_mark DEFAULT VALUES ON CONFLICT DO NOTHING
                   RETURNING settled_id"""
_BEHIND = "SELECT EXISTS (SELECT 1 FROM notification_attempt WHERE id > %s)"
_ATTEMPTS = """
SELECT n.target, a.outcome, count(*)
  FROM notification_attempt a
  JOIN notification n ON n.id = a.notification_id AND n.alert_ts = a.alert_ts
 WHERE a.id > %(after)s
 GROUP BY 1, 2
"""


class DeliveryStateCollector(Collector):
    """Notifications by state and target, retries, digests, the oldest undelivered one.

    A scrape costs the same whatever the size of the history: the backlog (queued, sending,
    failed, folded awaiting a digest) is counted through its partial indexes, and what only
    grows (sent, unsent, retries) is kept as running totals in the database
    (``delivery_totals``, migration 0010), adding only the delivery attempts recorded since the
    previous scrape (a primary-key range). Every web worker, and every receiver on the same
    database, serves the same totals, whichever dispatcher did the work; they do not go down
    when ``prune`` deletes old history, nor when a worker restarts.
    """

    def __init__(
        self, connection: Callable[[], AbstractContextManager[psycopg2.extensions.connection]]
    ) -> None:
        self._connection = connection

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # values come from the database at collect time only

    @staticmethod
    def _fold(cur: psycopg2.extensions.cursor, after: int) -> None:
        """Fold the attempts settled since ``after`` (at most CATCH_UP_IDS ids) into the totals;
        an attempt younger than SETTLE_SECONDS waits: a dispatcher's transaction that is still
        open may yet commit an attempt with a lower id."""
        cap = after + CATCH_UP_IDS
        cur.execute(_SETTLED_UP_TO, {"after": after, "cap": cap, "settle": SETTLE_SECONDS})
        upto, in_range, more = cur.fetchone() or (None, 0, False)
        if upto is None and not in_range and more:
            upto = cap  # a gap in the ids: nothing to count there
        if upto is not None:
            cur.execute(_FOLD, {"after": after, "upto": upto})
            cur.execute(_SETTLE, (upto,))

    def _attempt_totals(self, cur: psycopg2.extensions.cursor) -> Counter_[tuple[str, str]]:
        cur.execute(_MARK)
        mark = cur.fetchone()
        if mark is None:  # held by a concurrent scrape, or gone
            cur.execute(_RESTORE_MARK)
            mark = cur.fetchone()
        if mark is not None:
            self._fold(cur, int(mark[0]))
        cur.execute(_TOTALS)
        rows = cur.fetchall()
        settled = int(rows[0][0])
        totals: Counter_[tuple[str, str]] = Counter_(
            {(target, outcome): count for _, target, outcome, count in rows if target is not None}
        )
        cur.execute(_BEHIND, (settled + CATCH_UP_IDS,))
        (behind,) = cur.fetchone() or (False,)
        if behind:  # still catching up: the recent attempts are counted once it has
            return totals
        cur.execute(_ATTEMPTS, {"after": settled})
        for target, outcome, count in cur.fetchall():
            totals[(target, outcome)] += count
        return totals

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        counts = GaugeMetricFamily(
            "d76_receiver_notifications",
            "Notifications by state and delivery target: queued, sending, failed and folded "
            "(awaiting or in a digest) now; sent and unsent in total.",
            labels=["state", "target"],
        )
        oldest = GaugeMetricFamily(
            "d76_receiver_oldest_undelivered_notification_age_seconds",
            "Age of the oldest notification still queued or being sent (0 when none).",
        )
        up = GaugeMetricFamily(
            "d76_receiver_database_up", "1 if the receiver could query PostgreSQL at this scrape."
        )
        retries = CounterMetricFamily(
            "d76_receiver_delivery_retries",
            "Delivery attempts that failed transiently and were retried, by target.",
            labels=["target"],
        )
        digests = CounterMetricFamily(
            "d76_receiver_digests",
            "Storm digests, by target and state (sent, failed).",
            labels=["target", "state"],
        )
        dispatchers = GaugeMetricFamily(
            "d76_receiver_dispatchers_alive",
            "Dispatchers that looped within the last 30 s (they write a heartbeat every 5 s).",
        )
        watchdog_age = GaugeMetricFamily(
            "d76_receiver_watchdog_age_seconds",
            "Seconds since the Watchdog alert last arrived (the dead man's switch watches it).",
        )
        steps = CounterMetricFamily(
            "d76_receiver_escalation_steps",
            "Escalation steps taken: reminders and escalations queued, acknowledgements that "
            "expired (the escalation timers in PostgreSQL, whichever dispatcher took them).",
            labels=["step"],
        )
        timers = GaugeMetricFamily(
            "d76_receiver_escalation_timers",
            "Escalation timers of firing alerts, by state (waiting: unacknowledged, "
            "reminders running; acknowledged: paused until resolved or the ack expires; "
            "silenced: paused until the silence ends, or until resolved for a mute).",
            labels=["state"],
        )
        latency = GaugeMetricFamily(
            "d76_receiver_delivery_latency_seconds",
            "Webhook arrival to channel acceptance, over notifications sent in the last 10 "
            "minutes, by target and quantile.",
            labels=["target", "quantile"],
        )
        graphs_made = GaugeMetricFamily(
            "d76_receiver_graphs",
            "Graph snapshots by state: pending and rendering (all of them), done and skipped "
            "(of the alerts that started in the last 24 hours; skipped: Prometheus could not "
            "give it, the note says why).",
            labels=["state"],
        )
        try:
            with self._connection() as conn, conn, conn.cursor() as cur:
                cur.execute(_BACKLOG)
                rows = cur.fetchall()
                cur.execute(
                    """SELECT COALESCE(EXTRACT(EPOCH FROM now() - MIN(created_at)), 0)
                         FROM notification WHERE state IN ('queued', 'sending')"""
                )
                (age,) = cur.fetchone() or (0,)
                attempts = self._attempt_totals(cur)
                # Digests are few (one per destination and window during a storm).
                cur.execute("SELECT target, state, count(*), sum(folded) FROM digest GROUP BY 1, 2")
                digest_rows = cur.fetchall()
                cur.execute(
                    """SELECT target,
                              percentile_cont(0.5) WITHIN GROUP (ORDER BY latency),
                              percentile_cont(0.99) WITHIN GROUP (ORDER BY latency)
                         FROM (SELECT target, EXTRACT(EPOCH FROM sent_at - created_at) AS latency
                                 FROM notification
                                WHERE state = 'sent' AND sent_at > now() - interval '10 minutes'
                              ) recent
                        GROUP BY 1"""
                )
                latency_rows = cur.fetchall()
                cur.execute(
                    """SELECT count(*) FILTER (WHERE name LIKE 'dispatcher:%%'
                                                AND last_seen > now() - interval '30 seconds'),
                              EXTRACT(EPOCH FROM now() - max(last_seen)
                                      FILTER (WHERE name = 'watchdog'))
                         FROM heartbeat"""
                )
                alive, watchdog_seconds = cur.fetchone() or (0, None)
                step_totals = escalation.totals(cur)
                timer_counts = escalation.timers_by_state(cur)
                graph_counts = graphs.recent_by_state(cur)
        except Exception as exc:  # a scrape must answer even when the database is down
            log.warning("metrics: cannot read delivery state: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        by_state: Counter_[tuple[str, str]] = Counter_()
        for state, target, count in rows:
            by_state[(state, target)] += count
        for target, state, count, folded in digest_rows:
            digests.add_metric([target, state], count)
            if state != "failed":  # a failed digest's notifications wait for the next one
                by_state[("folded", target)] += int(folded or 0)
        retried: Counter_[str] = Counter_()
        for (target, outcome), count in sorted(attempts.items()):
            if outcome in ("sent", "unsent"):
                by_state[(outcome, target)] += count
            elif outcome in RETRIED_OUTCOMES:
                retried[target] += count
        for target, count in sorted(retried.items()):
            retries.add_metric([target], count)
        for (state, target), count in sorted(by_state.items()):
            counts.add_metric([state, target], count)
        oldest.add_metric([], float(age))
        up.add_metric([], 1)
        for target, p50, p99 in latency_rows:
            latency.add_metric([target, "0.5"], float(p50))
            latency.add_metric([target, "0.99"], float(p99))
        dispatchers.add_metric([], alive)
        if watchdog_seconds is not None:
            watchdog_age.add_metric([], float(watchdog_seconds))
        for step in escalation.STEPS:
            steps.add_metric([step], step_totals.get(step, 0))
        for state in escalation.STATES:
            timers.add_metric([state], timer_counts.get(state, 0))
        yield from (counts, oldest, up, retries, digests, latency, dispatchers, watchdog_age)
        for graph_state in GraphState:
            graphs_made.add_metric([graph_state], graph_counts.get(graph_state, 0))
        yield from (steps, timers, graphs_made)
