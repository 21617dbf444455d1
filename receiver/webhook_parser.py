"""Alertmanager webhook (version 4) payloads, parsed into typed values.

A pure function: bytes-decoded JSON in, ``Notification`` out, or ``InvalidPayload`` naming
the field that is wrong. Nothing here touches the database or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from receiver.errors import InvalidPayload

STATUSES = ("firing", "resolved")
# Alertmanager's zero time: an alert that is still firing has no end yet.
_ZERO_TIME_PREFIX = "0001-01-01"


@dataclass(frozen=True, slots=True)
class Alert:
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True, slots=True)
class Notification:
    receiver: str
    status: str
    group_key: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str
    truncated_alerts: int
    alerts: tuple[Alert, ...]


def _require(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise InvalidPayload(f"{where}{key}: missing")
    return obj[key]


def _string(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = _require(obj, key, where) if required else obj.get(key, "")
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(f"{where}{key}: must be a string")
    if "\x00" in value:
        raise InvalidPayload(f"{where}{key}: must not contain NUL characters")
    return value


def _string_map(obj: dict[str, Any], key: str, where: str, *, required: bool) -> dict[str, str]:
    value = _require(obj, key, where) if required else obj.get(key) or {}
    if not isinstance(value, dict):
        raise InvalidPayload(f"{where}{key}: must be an object of strings")
    for name, item in value.items():
        if not isinstance(item, str):
            raise InvalidPayload(f"{where}{key}.{name}: must be a string")
        if "\x00" in item or "\x00" in name:
            raise InvalidPayload(f"{where}{key}.{name}: must not contain NUL characters")
    return value


def _time(value: Any, field: str) -> datetime | None:
    if not isinstance(value, str):
        raise InvalidPayload(f"{field}: must be an RFC 3339 timestamp string")
    if value.startswith(_ZERO_TIME_PREFIX):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPayload(f"{field}: not an RFC 3339 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _alert(raw: Any, index: int) -> Alert:
    where = f"alerts[{index}]."
    if not isinstance(raw, dict):
        raise InvalidPayload(f"alerts[{index}]: must be an object")
    status = _string(raw, "status", where)
    if status not in STATUSES:
        raise InvalidPayload(f"{where}status: must be 'firing' or 'resolved', got {status[:20]!r}")
    labels = _string_map(raw, "labels", where, required=True)
    if not labels.get("alertname"):
        raise InvalidPayload(f"{where}labels.alertname: missing")
    starts_at = _time(_require(raw, "startsAt", where), f"{where}startsAt")
    if starts_at is None:
        raise InvalidPayload(f"{where}startsAt: must be a real time, not the zero time")
    ends_at = _time(raw.get("endsAt", _ZERO_TIME_PREFIX), f"{where}endsAt")
    fingerprint = _string(raw, "fingerprint", where)
    if not fingerprint or len(fingerprint) > 64:
        raise InvalidPayload(f"{where}fingerprint: must be 1 to 64 characters")
    return Alert(
        status=status,
        labels=labels,
        annotations=_string_map(raw, "annotations", where, required=False),
        starts_at=starts_at,
        ends_at=ends_at if status == "resolved" else None,
        generator_url=_string(raw, "generatorURL", where, required=False),
        fingerprint=fingerprint,
    )


def parse(document: Any) -> Notification:
    """Parse a decoded webhook body; raise InvalidPayload naming the offending field."""
    if not isinstance(document, dict):
        raise InvalidPayload("body: must be a JSON object (Alertmanager webhook version 4)")
    version = _require(document, "version", "")
    if version != "4":
        raise InvalidPayload(
            f"version: only Alertmanager webhook version '4' is accepted, got {version!r}"
        )
    status = _string(document, "status", "")
    if status not in STATUSES:
        raise InvalidPayload(f"status: must be 'firing' or 'resolved', got {status[:20]!r}")
    raw_alerts = _require(document, "alerts", "")
    if not isinstance(raw_alerts, list):
        raise InvalidPayload("alerts: must be a list")
    truncated = document.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise InvalidPayload("truncatedAlerts: must be a non-negative integer")
    return Notification(
        receiver=_string(document, "receiver", ""),
        status=status,
        group_key=_string(document, "groupKey", "", required=False),
        group_labels=_string_map(document, "groupLabels", "", required=False),
        common_labels=_string_map(document, "commonLabels", "", required=False),
        common_annotations=_string_map(document, "commonAnnotations", "", required=False),
        external_url=_string(document, "externalURL", "", required=False),
        truncated_alerts=truncated,
        alerts=tuple(_alert(raw, i) for i, raw in enumerate(raw_alerts)),
    )
