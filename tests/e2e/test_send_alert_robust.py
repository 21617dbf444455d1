"""send_alert() against a real Alertmanager: arguments of any type are coerced and never
raise, one invalid alert is dropped alone (the rest of its batch arrives), and an unreachable
Alertmanager does not delay the others. Without any Alertmanager:
tests/unit/test_send_alert_offline.py."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from exporter.alerts import AlertSender
from exporter.config import ExporterSettings, SendAlert
from exporter.facade import D75Exporter
from exporter.metrics import D75Metrics
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e


def _alertnames(url: str) -> set[str]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        return {a["labels"]["alertname"] for a in json.load(response)}


def _wait_names(url: str, names: set[str], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if names <= _alertnames(url):
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{names - _alertnames(url)} never reached {url}")


def _exporter(*urls: str, **send: Any) -> D75Exporter:
    settings = ExporterSettings(send_alert=SendAlert(alertmanager_urls=urls, **send))
    return D75Exporter(settings, CollectorRegistry())


def _value(d75: D75Exporter, name: str, **labels: str) -> float:
    return d75.registry.get_sample_value(name, labels) or 0.0


def _sender(*urls: str, **send: Any) -> tuple[AlertSender, CollectorRegistry]:
    """The sender alone (what ``D75Exporter.send_alert`` uses), to post alerts as they are."""
    registry = CollectorRegistry()
    return AlertSender(SendAlert(alertmanager_urls=urls, **send), D75Metrics(registry)), registry


def _count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_arguments_of_any_type_are_coerced_and_reach_alertmanager(alertmanager: str) -> None:
    d75 = _exporter(alertmanager)
    try:
        # The engine passes whatever it has at hand: wrong types on purpose.
        anything: Any = d75.send_alert
        anything(" p1 ", b"CrossSync", 42, 3.5, {"symbol": 7, ("odd", "key"): object()})
        anything("P2", None, "Odd\x00title \udcff", ["a", "list"], "not a mapping")
        assert _value(d75, "d75_exporter_hook_errors_total", hook="send_alert") == 0
        _wait_names(alertmanager, {"42", "Oddtitle"}, 10)
        with urllib.request.urlopen(f"{alertmanager}/api/v2/alerts", timeout=5) as response:
            by_name = {a["labels"]["alertname"]: a for a in json.load(response)}
        assert by_name["42"]["labels"]["symbol"] == "7"
        assert by_name["42"]["annotations"]["description"] == "3.5"
        assert by_name["Oddtitle"]["labels"]["source"] == "D75"
    finally:
        d75.close()


def test_one_invalid_alert_is_dropped_alone_and_the_rest_of_its_batch_arrives(
    alertmanager: str,
) -> None:
    sender, registry = _sender(alertmanager)
    try:
        good = [sender.build("P2", "CrossSync", f"Batch good {i}", "x") for i in range(5)]
        bad = {"labels": {}, "annotations": {"summary": "no labels at all"}}  # refused: 400
        # Sent back to back: the first starts the worker, which builds its HTTP client before
        # it takes from the queue, so they normally leave as one batch, and the refused batch
        # is halved down to the bad alert. (Were they split, the outcome would be the same.)
        for alert in [*good[:2], bad, *good[2:]]:
            sender.send(alert)
        _wait_names(alertmanager, {f"BatchGood{i}" for i in range(5)}, 10)
        # Alertmanager may show the last alerts before the sender has read its answer and
        # counted them: wait for the counts too.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            not _count(registry, "d75_exporter_alerts_rejected_total", alertmanager=alertmanager)
            or _count(registry, "d75_exporter_alerts_sent_total", alertmanager=alertmanager) < 5
        ):
            time.sleep(0.05)
        assert (
            _count(registry, "d75_exporter_alerts_rejected_total", alertmanager=alertmanager) == 1
        )
        assert _count(registry, "d75_exporter_alerts_sent_total", alertmanager=alertmanager) == 5
        assert _count(registry, "d75_exporter_alerts_failed_total", alertmanager=alertmanager) == 0
    finally:
        sender.close()


def test_an_unreachable_alertmanager_does_not_delay_the_next(alertmanager: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens
    d75 = _exporter(nowhere, alertmanager, attempts=5, timeout_seconds=2)
    try:
        for i in range(3):
            d75.send_alert("P1", "RiskGuard", f"Concurrent {i}", "x")
            took = _wait_names(alertmanager, {f"Concurrent{i}"}, 10)
            assert took < 2.0, f"event {i} took {took:.1f}s behind the unreachable one"
    finally:
        d75.close(timeout=0.5)


def test_an_invalid_alert_is_not_sent_again_with_every_resend(alertmanager: str) -> None:
    sender, registry = _sender(alertmanager, resend_seconds=0.5)
    try:
        sender.send({"labels": {}, "annotations": {"summary": "no labels at all"}})  # 400
        sender.send(sender.build("P2", "CrossSync", "Still good", "x"))
        _wait_names(alertmanager, {"StillGood"}, 10)
        time.sleep(2.0)  # four resend rounds
        assert (
            _count(registry, "d75_exporter_alerts_rejected_total", alertmanager=alertmanager) == 1
        )
        assert _count(registry, "d75_exporter_alerts_sent_total", alertmanager=alertmanager) >= 3
    finally:
        sender.close()
