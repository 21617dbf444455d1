"""``send_alert()``: events that are not metric-shaped, pushed to Alertmanager.

The engine's call only builds the alert (every argument coerced to a string Alertmanager
accepts) and puts it on a bounded queue per Alertmanager: it returns at once, never blocks on
the network and never raises; a full queue drops and counts. One background thread per
Alertmanager posts its queue to ``/api/v2/alerts`` with retries and backoff, concurrently (as
Prometheus does: a dead Alertmanager never delays the others), re-sends firing alerts so they
do not time out, and posts the end time when one is resolved. If Alertmanager refuses a batch
as invalid (400), the batch is halved until only the bad alerts are left: those alone are
dropped and counted.
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


def _text(value: Any, limit: int = 8192) -> str:
    """Anything as a string Alertmanager accepts: valid UTF-8, no NUL, bounded."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = "" if value is None else str(value)
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text[:limit]


def _metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if isinstance(metadata, Mapping):
        return {_text(k, 200): v for k, v in metadata.items()}
    return {"metadata": _text(metadata)}


class _Target:
    """One Alertmanager: its own bounded queue and worker, as Prometheus has per Alertmanager,
    so an unreachable one never delays the others."""

    def __init__(self, url: str, size: int) -> None:
        self.url = url
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(size)
        self.thread: threading.Thread | None = None


class AlertSender:
    """send_alert()'s background delivery to every Alertmanager: a bounded queue per target,
    worker threads, retries, and re-sends of what still fires. Longer than the house's usual
    class because the engine's calls and the workers share one lock over the alerts still
    firing; kept in one class, every use of that lock is in one place."""

    def __init__(self, settings: SendAlert, metrics: D75Metrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._targets = [_Target(url, settings.queue_size) for url in settings.alertmanager_urls]
        self._active: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        urls = settings.alertmanager_urls
        self._sent = {url: metrics.alerts_sent.labels(url) for url in urls}
        self._failed = {url: metrics.alerts_failed.labels(url) for url in urls}
        self._rejected = {url: metrics.alerts_rejected.labels(url) for url in urls}

    # -- called by the engine ----------------------------------------------------------------

    def build(
        self,
        severity: Any,
        source: Any,
        title: Any,
        message: Any,
        metadata: Any = None,
        *,
        alertname: Any = None,
    ) -> dict[str, Any]:
        """The alert as Alertmanager accepts it: every label and annotation a string."""
        severity = _text(severity, 10).strip().upper()
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
        title = _text(title, 200)
        meta = _metadata(metadata)
        labels = {
            "alertname": _text(alertname, 200) if alertname else alertname_for(title),
            "severity": severity,
            "source": _text(source, 50) or "D75",
        }
        labels.update({k: _text(meta[k], 200) for k in SCOPE_KEYS if meta.get(k) is not None})
        annotations = {"summary": title, "description": _text(message)}
        if meta.get("action"):
            annotations["action"] = _text(meta["action"])
        if meta:
            annotations["metadata"] = _text(json.dumps(meta, sort_keys=True, default=str))
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
        self._ensure_workers()
        for target in self._targets:
            try:
                target.queue.put_nowait(alert)
            except queue.Full:
                self._metrics.alerts_dropped.inc()
                log.error(
                    "send_alert queue for %s full (%s): event dropped",
                    target.url,
                    self._settings.queue_size,
                )
        self._update_queue_gauge()

    def _update_queue_gauge(self) -> None:
        self._metrics.alert_queue.set(max((t.queue.qsize() for t in self._targets), default=0))

    # -- background ---------------------------------------------------------------------------

    def _ensure_workers(self) -> None:
        for target in self._targets:
            if target.thread is None or not target.thread.is_alive():
                with self._lock:
                    if target.thread is None or not target.thread.is_alive():
                        target.thread = threading.Thread(
                            target=self._run, args=(target,), name="d76-send-alert", daemon=True
                        )
                        target.thread.start()

    def _run(self, target: _Target) -> None:
        client = httpx.Client(timeout=self._settings.timeout_seconds)
        next_resend = time.monotonic() + self._settings.resend_seconds
        try:
            while not self._stop.is_set():
                batch = self._next_batch(target, max(0.0, next_resend - time.monotonic()))
                if time.monotonic() >= next_resend:
                    with self._lock:
                        batch.extend(self._active.values())
                    next_resend = time.monotonic() + self._settings.resend_seconds
                if batch:
                    self._deliver(client, target.url, batch)
                self._update_queue_gauge()
        finally:
            client.close()

    def _next_batch(self, target: _Target, wait: float) -> list[dict[str, Any]]:
        try:
            batch = [target.queue.get(timeout=min(wait, 1.0))]
        except queue.Empty:
            return []
        while len(batch) < _BATCH:
            try:
                batch.append(target.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _deliver(self, client: httpx.Client, url: str, batch: list[dict[str, Any]]) -> None:
        """Post ``batch``; if Alertmanager refuses it as invalid, halve it until only the bad
        alerts are left, and drop (and count) just those."""
        outcome, problem = self._post(client, url, batch)
        if outcome == "sent":
            self._sent[url].inc(len(batch))
        elif outcome == "invalid" and len(batch) > 1:
            middle = len(batch) // 2
            self._deliver(client, url, batch[:middle])
            self._deliver(client, url, batch[middle:])
        elif outcome == "invalid":
            self._rejected[url].inc()
            with self._lock:  # it will never be accepted: do not send it again with every resend
                if self._active.get(self._key(batch[0])) is batch[0]:
                    del self._active[self._key(batch[0])]
            log.error(
                "send_alert: %s refused alert %s as invalid: %s",
                url,
                batch[0].get("labels", {}).get("alertname"),
                problem,
            )
        else:
            self._failed[url].inc(len(batch))
            log.error("send_alert: %s alert(s) not delivered to %s: %s", len(batch), url, problem)

    def _post(self, client: httpx.Client, url: str, batch: list[dict[str, Any]]) -> tuple[str, str]:
        """sent, invalid (400/422: this batch will never be accepted) or failed."""
        delay = 0.5
        problem = ""
        for attempt in range(1, self._settings.attempts + 1):
            try:
                response = client.post(f"{url.rstrip('/')}/api/v2/alerts", json=batch)
                if response.status_code < 300:
                    return "sent", ""
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code in (400, 422):
                    return "invalid", problem
                if response.status_code < 500:
                    return "failed", problem  # another 4xx will not get better
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt >= self._settings.attempts or self._stop.wait(delay):
                break
            delay = min(delay * 2, 8.0)
        return "failed", problem

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers after they have posted what is queued (up to ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while any(not t.queue.empty() for t in self._targets) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        for target in self._targets:
            if target.thread is not None:
                target.thread.join(max(0.1, deadline - time.monotonic()))
        dropped = sum(t.queue.qsize() for t in self._targets)
        if dropped:
            self._metrics.alerts_dropped.inc(dropped)
