"""send_alert() with no Alertmanager listening: the engine's call returns at once and never
raises, the undeliverable events are counted as failed, and a full queue drops and counts.
(Against a real Alertmanager: tests/e2e/test_send_alert_robust.py.)"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry

from exporter import D75Exporter
from exporter.config import ExporterSettings, SendAlert
from tests.support.ports import free_port


def _exporter(*urls: str, **send: Any) -> D75Exporter:
    settings = ExporterSettings(send_alert=SendAlert(alertmanager_urls=urls, **send))
    return D75Exporter(settings, CollectorRegistry())


def _value(d75: D75Exporter, name: str, **labels: str) -> float:
    return d75.registry.get_sample_value(name, labels) or 0.0


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(what)


def test_send_alert_returns_at_once_and_raises_nothing_while_alertmanager_is_down() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = ExporterSettings(
        send_alert=SendAlert(alertmanager_urls=(nowhere,), attempts=2, timeout_seconds=0.5)
    )
    d75 = D75Exporter(settings, CollectorRegistry())
    try:
        started = time.perf_counter()
        for i in range(100):
            d75.send_alert("P0", "RiskGuard", f"Event {i}", "Alertmanager is down")
        elapsed = time.perf_counter() - started
        assert elapsed < 0.5, f"100 send_alert() calls took {elapsed:.3f}s"
        _wait(
            lambda: (
                d75.registry.get_sample_value(
                    "d75_exporter_alerts_failed_total", {"alertmanager": nowhere}
                )
                == 100
            ),
            15,
            "the undeliverable events were not counted as failed",
        )
    finally:
        d75.close(timeout=1)


def test_a_full_queue_drops_and_counts() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    d75 = _exporter(nowhere, queue_size=5, attempts=3, timeout_seconds=1)
    try:
        started = time.monotonic()
        for i in range(50):
            d75.send_alert("P3", "RateLimiter", f"Burst {i}", "x")
        assert time.monotonic() - started < 0.5
        assert _value(d75, "d75_exporter_alerts_dropped_total") >= 40
        assert _value(d75, "d75_exporter_alert_queue_length") <= 5
    finally:
        d75.close(timeout=0.2)
