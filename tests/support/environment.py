"""``config_env``: a process environment in which the settings are the repository's own."""

from __future__ import annotations

import pytest

from tests.support import REPO


@pytest.fixture
def config_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with none of the receiver's variables set, pointing at the repo config."""
    for name in (
        "DATABASE_URL",
        "RECEIVER_PORT",
        "RECEIVER_WEBHOOK_TOKEN",
        "TELEGRAM_API_URL",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_CHAT_ID",
        "EXPORTER_PORT",
        "ALERTMANAGER_URL",
        "RECEIVER_EXTERNAL_URL",
        "ALERTMANAGER_EXTERNAL_URL",
        "PROMETHEUS_EXTERNAL_URL",
        "D76_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("D76_CONFIG_DIR", str(REPO / "config"))
    return monkeypatch
