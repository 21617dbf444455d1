"""The history API's query language: request parameters in, a validated ``HistoryFilter`` out.

Pure functions: a bad parameter raises ``BadRequest`` naming it. The SQL lives in
``store.py``; this module only decides what was asked.

The parameters are declared once, as the pydantic models ``FilterQuery``, ``AlertsQuery`` and
``StatsQuery``: the OpenAPI document is generated from them and the parameter names the API
accepts are their fields. The parsing stays hand-written (its messages name the parameter and
accept comma-separated and relative values); ``tests/test_openapi_document.py`` checks that it
agrees with the models on names, enums and limits.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, Field

from receiver.errors import BadRequest

# The names of receiver.model.SEVERITIES, spelled out for the type checker (a unit test
# holds the two together).
Severity = Literal["P0", "P1", "P2", "P3", "none"]
Status = Literal["firing", "resolved"]
Bucket = Literal["hour", "day"]
TrueFalse = Literal["true", "false"]  # as documented; the parser also takes 1/0, yes/no
SEVERITIES: tuple[str, ...] = get_args(Severity)
STATUSES: tuple[str, ...] = get_args(Status)
BUCKETS: tuple[str, ...] = get_args(Bucket)
TRUE_FALSE: tuple[str, ...] = get_args(TrueFalse)
DEFAULT_BUCKET: Bucket = "hour"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
DEFAULT_RANGE = timedelta(hours=24)
_DEFAULT_RANGE_TEXT = f"{DEFAULT_RANGE // timedelta(hours=1)} h"
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RELATIVE = re.compile(rf"^-(\d+)([{''.join(_UNITS)}])$")
TIME_PATTERN = (
    rf"^(-\d+[{''.join(_UNITS)}]"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)$"
)
Time = Annotated[str, Field(pattern=TIME_PATTERN)]


class FilterQuery(BaseModel):
    """The filter of GET /alerts and /stats, and of a bulk acknowledge's ``filter``."""

    from_: Time | None = Field(
        None,
        alias="from",
        description="Start of the range: ISO 8601 or relative (-24h). "
        f"Default: {_DEFAULT_RANGE_TEXT} before `to`.",
    )
    to: Time | None = Field(
        None, description="End of the range: ISO 8601 or relative. Default: now."
    )
    severity: list[Severity] = Field(
        [], description="One or several severities (repeat or comma-separate)."
    )
    source: list[str] = Field([], description="Sources, e.g. RiskGuard.")
    alertname: list[str] = Field([], description="Alert names.")
    status: Status | None = Field(None, description="Only alerts in this status.")
    acknowledged: TrueFalse | None = Field(
        None, description="Only acknowledged (true) or unacknowledged (false) alerts."
    )
    label: list[Annotated[str, Field(pattern="^[^:]+:.*$")]] = Field(
        [], description="Label matchers name:value, e.g. exchange:Upbit (repeat for several)."
    )


class AlertsQuery(FilterQuery):
    """GET /alerts: the filter and a page."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


class StatsQuery(FilterQuery):
    """GET /stats: the filter and a bucket."""

    bucket: Bucket = Field(DEFAULT_BUCKET, description="What each count covers.")


def param_names(model: type[BaseModel]) -> frozenset[str]:
    """The query parameter names a model declares (a field's alias where it has one)."""
    return frozenset(f.alias or name for name, f in model.model_fields.items())


FILTER_PARAMS = param_names(FilterQuery)
PAGE_PARAMS = param_names(AlertsQuery) - FILTER_PARAMS


@dataclass(frozen=True)
class HistoryFilter:
    start: datetime
    end: datetime
    severities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    alertnames: tuple[str, ...] = ()
    status: str | None = None
    acknowledged: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    limit: int
    after: tuple[datetime, int] | None  # (timestamp, id) of the last item already seen


def parse_time(value: str, name: str, now: datetime) -> datetime:
    """ISO 8601 (naive means UTC) or relative to now: -30m, -24h, -7d."""
    value = value.strip()
    match = _RELATIVE.match(value)
    if match:
        try:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:
            raise BadRequest(f"{name}: {value} reaches before the year 1") from None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{name}: not a time; use ISO 8601 (2026-11-24T03:00:00Z) or relative (-24h)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _values(raw: Iterable[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in raw for v in item.split(",") if v.strip())


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name}: must be true or false")


class Params:
    """What a filter reads from: query-string style (name -> list of values)."""

    def __init__(self, data: dict[str, list[str]]) -> None:
        self._data = data

    def all(self, name: str) -> list[str]:
        values = self._data.get(name, [])
        if any("\x00" in value for value in values):
            raise BadRequest(f"{name}: must not contain NUL characters")
        return values

    def one(self, name: str) -> str | None:
        values = self.all(name)
        if len(values) > 1:
            raise BadRequest(f"{name}: give it once")
        return values[0] if values else None


def parse_filter(params: Params, now: datetime | None = None) -> HistoryFilter:
    now = now or datetime.now(UTC)
    end = parse_time(params.one("to") or "", "to", now) if params.one("to") else now
    start_raw = params.one("from")
    try:
        start = parse_time(start_raw, "from", now) if start_raw else end - DEFAULT_RANGE
    except OverflowError:
        raise BadRequest(
            f"to: too early for the default {_DEFAULT_RANGE_TEXT} range; give from as well"
        ) from None
    if start > end:
        raise BadRequest("from: must not be after to")
    severities = _values(params.all("severity"))
    for severity in severities:
        if severity not in SEVERITIES:
            raise BadRequest(f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    status = params.one("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status: must be {' or '.join(STATUSES)}")
    acknowledged_raw = params.one("acknowledged")
    labels: dict[str, str] = {}
    for matcher in params.all("label"):
        name, sep, value = matcher.partition(":")
        if not sep or not name:
            raise BadRequest(f"label: {matcher!r} must be name:value, e.g. exchange:Upbit")
        labels[name] = value
    return HistoryFilter(
        start=start,
        end=end,
        severities=severities,
        sources=_values(params.all("source")),
        alertnames=_values(params.all("alertname")),
        status=status,
        acknowledged=None if acknowledged_raw is None else _bool(acknowledged_raw, "acknowledged"),
        labels=labels,
    )


def check_range(f: HistoryFilter, max_days: int) -> None:
    """Statistics and the page read every alert in the range: it has a maximum."""
    if f.end - f.start > timedelta(days=max_days):
        raise BadRequest(
            f"from: the range from..to is at most {max_days} days here "
            f"(receiver.api.max_range_days); narrow it"
        )


def encode_cursor(timestamp: datetime, alert_id: int) -> str:
    raw = json.dumps([timestamp.isoformat(), alert_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_page(params: Params) -> Page:
    limit_raw = params.one("limit")
    if limit_raw is None:
        limit = DEFAULT_LIMIT
    elif not limit_raw.isdigit() or not 1 <= int(limit_raw) <= MAX_LIMIT:
        raise BadRequest(f"limit: must be a whole number from 1 to {MAX_LIMIT}")
    else:
        limit = int(limit_raw)
    cursor = params.one("cursor")
    if cursor is None:
        return Page(limit, None)
    try:
        stamp, alert_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = (datetime.fromisoformat(stamp), int(alert_id))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("cursor: not a cursor this API gave out") from None
    return Page(limit, after)
