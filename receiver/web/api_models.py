"""The history API's request bodies and responses as pydantic models: the OpenAPI document
(``receiver.web.openapi``) is generated from them, and the tests check responses against them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from receiver import query_params
from receiver.query_params import Bucket, Status

BY_MAX = 200
COMMENT_MAX = 2000


# The models' docstrings are the document's descriptions; ``actor`` and ``ack_matching`` check
# the bodies by hand with the same limits.
class AckBody(BaseModel):
    """Who acknowledges, and why."""

    by: str = Field(min_length=1, max_length=BY_MAX, description="Who acknowledges.")
    comment: str | None = Field(None, max_length=COMMENT_MAX)


class BulkAckBody(AckBody):
    """Who acknowledges, why, and which alerts."""

    filter: dict[str, str | list[str]] = Field(
        min_length=1,
        description="Query parameters of GET /alerts.",
        json_schema_extra={"propertyNames": {"enum": [*sorted(query_params.FILTER_PARAMS)]}},
    )


class Alert(BaseModel):
    """One alert as the history holds it."""

    # store.history's _ALERT_COLUMNS, in their order

    id: int
    timestamp: datetime
    severity: str
    source: str
    title: str
    message: str
    metadata: dict[str, Any] | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    fingerprint: str
    alertname: str
    status: Status
    starts_at: datetime
    ends_at: datetime | None
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    receiver: str


class AlertPage(BaseModel):
    items: list[Alert]
    next_cursor: str | None


class Attempt(BaseModel):
    at: datetime
    outcome: str
    duration_ms: int
    message_id: str | None
    error: str | None


class Notification(BaseModel):
    id: int
    kind: str
    target: str
    state: str
    attempts: int
    sweeps: int
    created_at: datetime
    sent_at: datetime | None
    message_id: str | None
    last_error: str | None
    digest_id: int | None
    attempt_log: list[Attempt]


class AlertAction(BaseModel):
    action: str
    actor: str
    at: datetime
    detail: dict[str, Any]


class EscalationTimer(BaseModel):
    """The alert's escalation timer (reminders, escalation, the ack's expiry)."""

    state: str = Field(description="waiting, acknowledged or done")
    next_at: datetime | None = Field(description="When its next step is due.")
    remind_at: datetime | None
    escalate_at: datetime | None
    resume_at: datetime | None = Field(description="When the acknowledgement expires.")
    escalated_at: datetime | None
    reminders: int
    ack_expiries: int
    remind_to: list[str]
    escalate_to: list[str]
    mentions: list[str]


class AlertDetail(Alert):
    """The alert with its lifecycle: notifications with every attempt, actions, and its
    escalation timer (null when its severity has no escalation policy)."""

    notifications: list[Notification]
    actions: list[AlertAction]
    escalation: EscalationTimer | None = None


class Acknowledged(BaseModel):
    acknowledged: int = Field(description="How many were acknowledged now.")


class SeverityCount(BaseModel):
    bucket: datetime
    severity: str
    count: int


class SourceCount(BaseModel):
    bucket: datetime
    source: str
    count: int


class AlertnameCount(BaseModel):
    bucket: datetime
    alertname: str
    count: int


class Durations(BaseModel):
    count: int
    mean: float | None
    p90: float | None


class Noisy(BaseModel):
    alertname: str
    severity: str
    count: int


class Flapping(BaseModel):
    alertname: str
    fingerprint: str
    labels: dict[str, str]
    occurrences: int
    resolved: int


class Stats(BaseModel):
    by_severity: list[SeverityCount]
    by_source: list[SourceCount]
    by_alertname: list[AlertnameCount]
    total: int
    time_to_ack_seconds: Durations
    time_to_resolve_seconds: Durations
    noisiest: list[Noisy]
    flapping: list[Flapping]
    start: datetime
    end: datetime
    bucket: Bucket


class ErrorDetail(BaseModel):
    code: str
    message: str


class Error(BaseModel):
    """Every error has this shape."""

    error: ErrorDetail
