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
from prometheus_client.core import GaugeMetricFamily
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

    def collect(self) -> Iterator[GaugeMetricFamily]:
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
        try:
            with self._connection() as conn, conn, conn.cursor() as cur:
                cur.execute("SELECT state, target, count(*) FROM notification GROUP BY 1, 2")
                rows = cur.fetchall()
                cur.execute(
                    """SELECT COALESCE(EXTRACT(EPOCH FROM now() - MIN(created_at)), 0)
                         FROM notification WHERE state IN ('queued', 'sending')"""
                )
                (age,) = cur.fetchone() or (0,)
        except Exception as exc:  # a scrape must answer even when the database is down
            log.warning("metrics: cannot read delivery state: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        for state, target, count in rows:
            counts.add_metric([state, target], count)
        oldest.add_metric([], float(age))
        up.add_metric([], 1)
        yield from (counts, oldest, up)
