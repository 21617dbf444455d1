"""The webhook parser: a pure function from decoded JSON to typed alerts, or a named error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from receiver.errors import InvalidPayload
from receiver.webhook_parser import parse
from tests.support.payloads import alert, payload


def test_a_firing_alert_parses_with_no_end_time() -> None:
    notification = parse(payload(alert()))
    assert notification.receiver == "d76-p0"
    (parsed,) = notification.alerts
    assert parsed.status == "firing"
    assert parsed.alertname == "GlobalGuardDailyLossLimit"
    assert parsed.starts_at == datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    assert parsed.ends_at is None
    assert parsed.labels["severity"] == "P0"


def test_a_resolved_alert_carries_its_end_time() -> None:
    (parsed,) = parse(payload(alert(status="resolved"))).alerts
    assert parsed.ends_at == datetime(2026, 11, 24, 3, 5, tzinfo=UTC)


def _broken(mutate: Any) -> dict[str, Any]:
    document = payload(alert())
    mutate(document)
    return document


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda d: d.pop("version"), "version: missing"),
        (lambda d: d.update(version="3"), "version: only Alertmanager webhook version '4'"),
        (lambda d: d.update(status="pending"), "status: must be 'firing' or 'resolved'"),
        (lambda d: d.update(alerts={}), "alerts: must be a list"),
        (lambda d: d.pop("receiver"), "receiver: missing"),
        (lambda d: d.update(truncatedAlerts=-1), "truncatedAlerts"),
        (lambda d: d["alerts"][0]["labels"].pop("alertname"), "alerts[0].labels.alertname"),
        (lambda d: d["alerts"][0]["labels"].update(severity=0), "alerts[0].labels.severity"),
        (lambda d: d["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda d: d["alerts"][0].update(fingerprint=""), "alerts[0].fingerprint"),
        (lambda d: d["alerts"].append("x"), "alerts[1]: must be an object"),
        (
            lambda d: d["alerts"][0]["labels"].update(exchange="Up\x00bit"),
            "alerts[0].labels.exchange: must not contain NUL",
        ),  # PostgreSQL could not store it
    ],
)
def test_invalid_payloads_name_the_field(mutate: Any, named: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        parse(_broken(mutate))
    assert named in caught.value.message
    assert caught.value.status == 400


def test_a_non_object_body_is_refused() -> None:
    with pytest.raises(InvalidPayload, match="body: must be a JSON object"):
        parse([1, 2, 3])
