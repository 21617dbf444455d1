"""Fixtures of the integration tests alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.standins.smtp import SmtpStandin


@pytest.fixture
def smtp() -> Iterator[SmtpStandin]:
    """A real SMTP server on loopback, without authentication."""
    standin = SmtpStandin().start()
    yield standin
    standin.stop()
