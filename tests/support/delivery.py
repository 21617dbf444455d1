"""The dispatcher in a thread of the test, on fast timers, and alerts queued for it."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2

from receiver import config, store
from receiver.delivery import Dispatcher, build_channels
from receiver.webhook_parser import parse
from tests.support.database import query
from tests.support.payloads import payload
from tests.support.standins.telegram import CHAT, TOKEN, TelegramStandin


def fast_settings(telegram: TelegramStandin | None, **dispatcher: float) -> config.Settings:
    """Settings for the dispatcher: Telegram is the stand-in (None: no token), backoff and
    idle wake in tenths of a second; ``dispatcher`` overrides its other settings."""
    tg: dict[str, object] = {"timeout_seconds": 3}
    if telegram is not None:
        tg.update(api_url=telegram.api_url, bot_token=TOKEN, chat_id=CHAT)
    fast: dict[str, float] = {
        "backoff_base_seconds": 0.1,
        "backoff_max_seconds": 0.4,
        "idle_wake_seconds": 0.5,
    }
    fast.update(dispatcher)
    return config.Settings.model_validate({"telegram": tg, "dispatcher": fast})


def queue_alerts(
    url: str,
    *alerts: dict[str, object],
    receiver: str = "d76-p0",
    targets: list[str] | None = None,
    policy: store.IngestPolicy | None = None,
) -> None:
    """Store ``alerts`` as the webhook does and queue them for ``targets`` (Telegram)."""
    conn = psycopg2.connect(url)
    try:
        notification = parse(payload(*alerts, receiver=receiver))
        store.ingest(conn, notification, targets or ["telegram"], policy)
    finally:
        conn.close()


@contextmanager
def running(url: str, settings: config.Settings) -> Iterator[Dispatcher]:
    dispatcher = Dispatcher(
        url, settings.dispatcher, build_channels(settings), rng=random.Random(7)
    )
    thread = threading.Thread(target=dispatcher.run, daemon=True)
    thread.start()
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "dispatcher did not stop"


def wait_state(url: str, state: str, timeout: float = 10.0) -> None:
    """Wait until every notification is in ``state``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if query(url, "SELECT count(*) FROM notification WHERE state <> %s", (state,)) == [(0,)]:
            return
        time.sleep(0.05)
    raise AssertionError(query(url, "SELECT id, state, attempts, last_error FROM notification"))
