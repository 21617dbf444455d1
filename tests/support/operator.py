"""The operator's loop in the test's own process: settings with short escalation timers,
a dispatcher with its chores (escalation, mutes) and the Telegram update poller (buttons and
chat commands), against the stand-ins and, where given, a real Alertmanager."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from receiver import config, store
from receiver.channels.telegram_updates import UpdatePoller
from receiver.delivery import Chores, Dispatcher, MuteWatch, build_channels, daily_summary
from receiver.store import reports
from tests.support.standins.slack import SlackStandin
from tests.support.standins.telegram import TOKEN, TelegramStandin

CHAT, ESCALATION_CHAT = "-100777", "-100888"
ALICE = 4242  # the user allowed to press buttons and give commands
REMIND, ESCALATE, EXPIRES = 3.0, 7.0, 5.0  # seconds


def operator_settings(
    url: str,
    telegram: TelegramStandin,
    slack_webhooks: SlackStandin | None = None,
    alertmanager: str = "http://127.0.0.1:9",
    p0: dict[str, Any] | None = None,
    telegram_extra: dict[str, Any] | None = None,
    **sections: Any,
) -> config.Settings:
    """Receiver settings on the stand-ins, P0's escalation in seconds (``p0`` overrides)."""
    level: dict[str, Any] = {
        "remind_every_minutes": REMIND / 60,
        "escalate_after_minutes": ESCALATE / 60,
        "escalate_to": ["telegram_escalation", "slack_critical"],
        "mention": ["@d76_lead", "U024BE7LH"],
    }
    level.update(p0 or {})
    data: dict[str, Any] = {
        "database_url": url,
        "alertmanager_url": alertmanager,
        "telegram": {
            "api_url": telegram.api_url, "bot_token": TOKEN, "chat_id": CHAT,
            "escalation_chat_id": ESCALATION_CHAT, "timeout_seconds": 3,
            "allowed_user_ids": [ALICE], "poll_timeout_seconds": 1,
        },
        "slack": {"webhook_url_critical": slack_webhooks.url("critical")}
        if slack_webhooks
        else {},
        "dispatcher": {"idle_wake_seconds": 0.3, "backoff_max_seconds": 0.5},
        "routing": {"receivers": {"d76-p0": ["telegram", "slack_critical"]}},
        "escalation": {"check_seconds": 0.2, "P0": level, "P1": None},
        "mute": {"check_seconds": 0.5, "resolve_grace_seconds": 1},
    }  # fmt: skip
    data["telegram"].update(telegram_extra or {})
    data.update(sections)
    return config.Settings.model_validate(data)


@contextmanager
def dispatching(
    settings: config.Settings, name: str = "A", *, poller: bool = False
) -> Iterator[Dispatcher]:
    """A dispatcher with its chores (and, with ``poller``, the update poller) in threads.

    Yesterday's daily summary is recorded as sent first: it is not these tests' subject, and
    its first chore pass renders the PDF (matplotlib), which took 7 s on a loaded machine,
    longer than the shortened escalation timers, with every page waiting behind it."""
    _summary_told(settings.dsn)
    channels = build_channels(settings)
    dispatcher = Dispatcher(
        settings.dsn, settings.dispatcher, channels, rng=random.Random(7), name=name
    )
    watch = MuteWatch(settings)
    dispatcher.chores = Chores(dispatcher.name, settings, channels, mute=watch)
    thread = threading.Thread(target=dispatcher.run, daemon=True)
    updates = UpdatePoller(settings) if poller else None
    thread.start()
    if updates is not None:
        updates.start()
    try:
        yield dispatcher
    finally:
        if updates is not None:
            updates.stop(timeout=10)
        dispatcher.stop()
        thread.join(timeout=10)
        watch.close()
        assert not thread.is_alive(), "dispatcher did not stop"
        assert updates is None or not updates.alive, "update poller did not stop"


def _summary_told(dsn: str) -> None:
    conn = store.connect(dsn)
    try:
        day = daily_summary.previous_day(datetime.now(UTC).date())
        if reports.claim_daily_summary(conn, day):
            reports.finish_daily_summary(conn, day, "sent")
    finally:
        conn.close()
