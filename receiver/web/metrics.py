"""The receiver's own metrics, declared in one place, served at /metrics.

Counters live in the web process. Delivery state is read from PostgreSQL at scrape time,
so it is right whichever dispatcher process did the work, with queries whose cost does not
grow with the history (see ``DeliveryStateCollector``).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Counter_
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import psycopg2.extensions
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from receiver.store import escalation_views as escalation

log = logging.getLogger("d76.receiver")


class ReceiverMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
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
# A scrape folds at most this many attempt ids into the totals: after a restart over a long
# history the totals catch up over a few scrapes instead of one scrape timing out (and then
# every later one, the totals never moving).
CATCH_UP_IDS = 100_000
_SETTLED_UP_TO = """
SELECT max(id) FILTER (WHERE attempted_at < now() - make_interval(secs => %(settle)s)),
       count(*),
       EXISTS (SELECT 1 FROM notification_attempt WHERE id > %(cap)s)
  FROM notification_attempt
 WHERE id > %(after)s AND id <= %(cap)s
"""
_ATTEMPTS = """
SELECT n.target, a.outcome, count(*)
  FROM notification_attempt a JOIN notification n ON n.id = a.notification_id
 WHERE a.id > %(after)s AND (%(upto)s::bigint IS NULL OR a.id <= %(upto)s::bigint)
 GROUP BY 1, 2
"""


class DeliveryStateCollector(Collector):
    """Notifications by state and target, retries, digests, the oldest undelivered one.

    A scrape costs the same whatever the size of the history: the backlog (queued, sending,
    failed, folded awaiting a digest) is counted through its partial indexes, and what only
    grows (sent, unsent, retries) is kept as running totals in this process, adding only the
    delivery attempts recorded since the previous scrape (a primary-key range). The first
    scrape after start reads the attempts once; totals are the database's, whichever
    dispatcher did the work, and do not go down when ``prune`` deletes old history.
    """

    def __init__(
        self, connection: Callable[[], AbstractContextManager[psycopg2.extensions.connection]]
    ) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._settled_id = 0  # attempts up to this id are in _totals
        self._totals: Counter_[tuple[str, str]] = Counter_()  # (target, outcome) -> count

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # values come from the database at collect time only

    def _attempt_totals(self, cur: psycopg2.extensions.cursor) -> Counter_[tuple[str, str]]:
        with self._lock:
            after = self._settled_id
            cap = after + CATCH_UP_IDS
            cur.execute(_SETTLED_UP_TO, {"after": after, "cap": cap, "settle": SETTLE_SECONDS})
            upto, in_range, more = cur.fetchone() or (None, 0, False)
            if upto is None and not in_range and more:
                upto = cap  # a gap in the ids: nothing to count there
            if upto is not None:
                cur.execute(_ATTEMPTS, {"after": after, "upto": upto})
                for target, outcome, count in cur.fetchall():
                    self._totals[(target, outcome)] += count
                self._settled_id = upto
            totals = Counter_(self._totals)
            if more:  # still catching up: the recent attempts are counted once it has
                return totals
            cur.execute(_ATTEMPTS, {"after": self._settled_id, "upto": None})
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
        yield from (steps, timers)
