"""Errors the receiver answers with: each carries its HTTP status and a stable code.

Every error leaves the receiver in one JSON shape: {"error": {"code": ..., "message": ...}}.
"""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class InvalidPayload(BadRequest):
    code = "invalid_payload"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class StoreUnavailable(ApiError):
    """PostgreSQL cannot be reached: answer 503 so that Alertmanager retries."""

    status = 503
    code = "store_unavailable"


class QueryTimeout(ApiError):
    """A statement ran past its role's statement_timeout and was cancelled."""

    status = 503
    code = "query_timeout"
