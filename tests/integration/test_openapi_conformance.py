"""Schemathesis generates requests from /api/v1/openapi.json against the real app and real
PostgreSQL: no 5xx, and every answer matches the document (status, content type, schema)."""

from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.database import store_alerts
from tests.support.payloads import alert

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_api_matches_its_openapi_document(app: Flask, database_url: str) -> None:
    store_alerts(
        database_url,
        *[
            alert(f"A{i}", fingerprint=f"s{i:015d}", starts_at="2026-11-20T10:00:00Z")
            for i in range(5)
        ],
    )
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        check()
