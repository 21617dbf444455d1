"""The receiver's Flask app on the session database, as in Flask's tutorial: ``app`` is
``create_app(settings)`` and ``client`` its test client.

``settings`` is a settings object built from the repository's configuration (config/*.yml,
dev) with the session's DATABASE_URL; a test module that needs other settings for all its
tests overrides the ``settings`` fixture (say with ``settings.model_copy(update=...)``). A test
that needs an app of its own calls ``app_factory``.
"""

from __future__ import annotations

from typing import Protocol

import pytest
from flask import Flask
from flask.testing import FlaskClient

from receiver import config
from receiver.web.app import create_app


class AppFactory(Protocol):
    def __call__(self, *, db_connections: int = 8, **environ: str) -> Flask: ...


@pytest.fixture
def settings(config_env: pytest.MonkeyPatch, database_url: str) -> config.Settings:
    """The repository's receiver settings, on the session database."""
    return config.load({"DATABASE_URL": database_url})


@pytest.fixture
def app(settings: config.Settings) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_factory(settings: config.Settings) -> AppFactory:
    """``create_app()`` of the same configuration changed by environment variables, given as
    keyword arguments and read the way the receiver reads its environment (``config.load``
    takes them as a mapping: the process environment stays as it is). That is how secrets
    (HISTORY_API_READ_TOKEN, RECEIVER_WEBHOOK_TOKEN, ...) reach the receiver: never from a
    file. ``DATABASE_URL`` may be given too; ``db_connections`` is create_app's."""

    def build(*, db_connections: int = 8, **environ: str) -> Flask:
        changed = config.load({"DATABASE_URL": settings.dsn, **environ}) if environ else settings
        return create_app(changed, db_connections=db_connections)

    return build
