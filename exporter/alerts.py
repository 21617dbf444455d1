"""``send_alert()``: events that are not metric-shaped, pushed to Alertmanager.

The engine's call only builds the alert and puts it on a bounded queue: it returns at once,
never blocks on the network and never raises. A background thread posts the queue to every
configured Alertmanager's ``/api/v2/alerts`` with retries and backoff, re-sends firing alerts
(as Prometheus does) so they do not time out, and posts the end time when one is resolved.
The alerts carry the same labels and annotations as rule-made ones (severity, source,
summary, description, action), so Alertmanager routes, groups, inhibits and silences them the
same way and the receiver stores them the same way.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from exporter.config import SendAlert
from exporter.metrics import D75Metrics

log = logging.getLogger("d76.exporter")
SEVERITIES = ("P0", "P1", "P2", "P3")
SCOPE_KEYS = ("exchange", "category", "route", "symbol", "tier")
_BATCH = 64


def alertname_for(title: str) -> str:
    """A rule-style alert name from a title: "Rebalance failed 3x" -> "RebalanceFailed3x"."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "".join(w[:1].upper() + w[1:] for w in words) or "D75Event"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertSender:
    def __init__(self, settings: SendAlert, metrics: D75Metrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(settings.queue_size)
        self._active: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent = {url: metrics.alerts_sent.labels(url) for url in settings.alertmanager_urls}
        self._failed = {
            url: metrics.alerts_failed.labels(url) for url in settings.alertmanager_urls
        }

    # -- called by the engine ----------------------------------------------------------------

    def build(
        self,
        severity: str,
        source: str,
        title: str,
        message: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        alertname: str | None = None,
    ) -> dict[str, Any]:
        severity = severity.upper()
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
        meta = dict(metadata or {})
        labels = {
            "alertname": alertname or alertname_for(title),
            "severity": severity,
            "source": source,
        }
        labels.update({k: str(meta[k]) for k in SCOPE_KEYS if meta.get(k) is not None})
        annotations = {"summary": title, "description": message}
        if meta.get("action"):
            annotations["action"] = str(meta["action"])
        if meta:
            annotations["metadata"] = json.dumps(meta, sort_keys=True, default=str)
        return {"labels": labels, "annotations": annotations}

    def _key(self, alert: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        labels = alert["labels"]
        return tuple(sorted((k, v) for k, v in labels.items() if k != "severity"))

    def send(self, alert: dict[str, Any]) -> None:
        with self._lock:
            key = self._key(alert)
            previous = self._active.get(key)
            alert["startsAt"] = previous["startsAt"] if previous else _now()
            self._active[key] = alert
        self._enqueue(alert)

    def resolve(self, alert: dict[str, Any]) -> None:
        with self._lock:
            active = self._active.pop(self._key(alert), None)
        if active is None:
            return  # never sent (or already resolved): nothing to end
        self._enqueue({**active, "endsAt": _now()})

    def _enqueue(self, alert: dict[str, Any]) -> None:
        self._ensure_worker()
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self._metrics.alerts_dropped.inc()
            log.error("send_alert queue full (%s): event dropped", self._settings.queue_size)
        self._metrics.alert_queue.set(self._queue.qsize())

    # -- background ---------------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="d76-send-alert", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        client = httpx.Client(timeout=self._settings.timeout_seconds)
        next_resend = time.monotonic() + self._settings.resend_seconds
        try:
            while not self._stop.is_set():
                batch = self._next_batch(max(0.0, next_resend - time.monotonic()))
                if time.monotonic() >= next_resend:
                    with self._lock:
                        batch.extend(self._active.values())
                    next_resend = time.monotonic() + self._settings.resend_seconds
                if batch:
                    self._post(client, batch)
                self._metrics.alert_queue.set(self._queue.qsize())
        finally:
            client.close()

    def _next_batch(self, wait: float) -> list[dict[str, Any]]:
        try:
            batch = [self._queue.get(timeout=min(wait, 1.0))]
        except queue.Empty:
            return []
        while len(batch) < _BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _post(self, client: httpx.Client, batch: list[dict[str, Any]]) -> None:
        for url in self._settings.alertmanager_urls:
            delay = 0.5
            for attempt in range(1, self._settings.attempts + 1):
                final = attempt >= self._settings.attempts
                try:
                    response = client.post(f"{url.rstrip('/')}/api/v2/alerts", json=batch)
                    if response.status_code < 300:
                        self._sent[url].inc(len(batch))
                        break
                    problem = f"HTTP {response.status_code}: {response.text[:200]}"
                    final = final or response.status_code < 500  # a 4xx will not get better
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                if final or self._stop.wait(delay):
                    self._failed[url].inc(len(batch))
                    log.error(
                        "send_alert: %s alert(s) not delivered to %s: %s", len(batch), url, problem
                    )
                    break
                delay = min(delay * 2, 8.0)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after it has posted what is queued (up to ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))
        dropped = self._queue.qsize()
        if dropped:
            self._metrics.alerts_dropped.inc(dropped)
