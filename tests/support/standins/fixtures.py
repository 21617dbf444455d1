"""Fixtures that start a stand-in for the test and stop it after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.standins.slack import SlackStandin
from tests.support.standins.telegram import CHAT, TOKEN, TelegramStandin


@pytest.fixture
def telegram() -> Iterator[TelegramStandin]:
    standin = TelegramStandin().start()
    yield standin
    standin.stop()


def telegram_env(telegram: TelegramStandin) -> dict[str, str]:
    """The environment that points the receiver at the Telegram stand-in."""
    return {
        "TELEGRAM_API_URL": telegram.api_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_CHAT_ID": CHAT,
    }


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    standin = SlackStandin().start()
    yield standin
    standin.stop()
