"""The receiver's own metrics, declared in one place, served at /metrics.

Counters live in the web process. Delivery state is read from PostgreSQL at scrape time,
so it is right whichever dispatcher process did the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import psycopg2.extensions
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

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


class DeliveryStateCollector(Collector):
    """Notifications by state and target, and the age of the oldest undelivered one."""

    def __init__(
        self, connection: Callable[[], AbstractContextManager[psycopg2.extensions.connection]]
    ) -> None:
        self._connection = connection

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # values come from the database at collect time only

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        counts = GaugeMetricFamily(
            "d76_receiver_notifications",
            "Notifications in the outbox, by state and delivery target.",
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
        latency = GaugeMetricFamily(
            "d76_receiver_delivery_latency_seconds",
            "Webhook arrival to channel acceptance, over notifications sent in the last 10 "
            "minutes, by target and quantile.",
            labels=["target", "quantile"],
        )
        try:
            with self._connection() as conn, conn, conn.cursor() as cur:
                cur.execute("SELECT state, target, count(*) FROM notification GROUP BY 1, 2")
                rows = cur.fetchall()
                cur.execute(
                    """SELECT COALESCE(EXTRACT(EPOCH FROM now() - MIN(created_at)), 0)
                         FROM notification WHERE state IN ('queued', 'sending')"""
                )
                (age,) = cur.fetchone() or (0,)
                cur.execute(
                    """SELECT n.target, count(*) FROM notification_attempt a
                         JOIN notification n ON n.id = a.notification_id
                        WHERE a.outcome IN ('retry', 'throttled', 'unknown') GROUP BY 1"""
                )
                retry_rows = cur.fetchall()
                cur.execute("SELECT target, state, count(*) FROM digest GROUP BY 1, 2")
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
        except Exception as exc:  # a scrape must answer even when the database is down
            log.warning("metrics: cannot read delivery state: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        for state, target, count in rows:
            counts.add_metric([state, target], count)
        oldest.add_metric([], float(age))
        up.add_metric([], 1)
        for target, count in retry_rows:
            retries.add_metric([target], count)
        for target, state, count in digest_rows:
            digests.add_metric([target, state], count)
        for target, p50, p99 in latency_rows:
            latency.add_metric([target, "0.5"], float(p50))
            latency.add_metric([target, "0.99"], float(p99))
        dispatchers.add_metric([], alive)
        if watchdog_seconds is not None:
            watchdog_age.add_metric([], float(watchdog_seconds))
        yield from (counts, oldest, up, retries, digests, latency, dispatchers, watchdog_age)
