"""Unit tests use no service: a test that asks for one belongs to another level."""

from __future__ import annotations

import pytest

SERVICES = {
    "state_root",
    "postgres",
    "database_url",
    "settings",
    "app",
    "client",
    "app_factory",
    "telegram",
    "slack",
    "alertmanager",
    "pipeline",
}


@pytest.fixture(autouse=True)
def _no_services(request: pytest.FixtureRequest) -> None:
    used = SERVICES.intersection(request.fixturenames)
    if used:
        pytest.fail(
            f"a unit test may not use {', '.join(sorted(used))}: move it to a level that does"
        )
