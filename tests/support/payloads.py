"""Alertmanager webhook (version 4) payloads shaped like the real ones, for tests."""

from __future__ import annotations

from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"


def alert(
    alertname: str = "GlobalGuardDailyLossLimit",
    *,
    severity: str = "P0",
    source: str = "RiskGuard",
    status: str = "firing",
    fingerprint: str = "a1b2c3d4e5f60718",
    starts_at: str = "2026-11-24T03:00:00.000Z",
    ends_at: str = ZERO_TIME,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    all_labels = {
        "alertname": alertname,
        "severity": severity,
        "source": source,
        "job": "d75",
        "instance": "127.0.0.1:9108",
    }
    all_labels.update(labels or {})
    return {
        "status": status,
        "labels": all_labels,
        "annotations": annotations
        if annotations is not None
        else {
            "summary": "GlobalGuard BLOCK",
            "description": "Reason: Global Daily Loss Limit\nDaily Loss: $55000 / $50000 (limit)",
            "action": "Trading HALTED until next day",
        },
        "startsAt": starts_at,
        "endsAt": ends_at
        if status == "firing"
        else (ends_at if ends_at != ZERO_TIME else "2026-11-24T03:05:00.000Z"),
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict[str, Any], receiver: str = "d76-p0") -> dict[str, Any]:
    alerts = alerts or (alert(),)
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    common = dict(alerts[0]["labels"]) if len(alerts) == 1 else {}
    return {
        "version": "4",
        "groupKey": '{}/{severity="P0"}:{alertname="GlobalGuardDailyLossLimit"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": common,
        "commonAnnotations": dict(alerts[0]["annotations"]) if len(alerts) == 1 else {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": list(alerts),
    }
