"""Telegram delivery through python-telegram-bot's ``Bot``.

The library is asynchronous; the dispatcher is a plain loop, so this channel keeps one
private event loop and runs each Bot API call to completion on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NoReturn

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from receiver.channels import telegram_buttons
from receiver.channels.base import NotConfigured, Outgoing, PermanentError, TransientError
from receiver.config import Telegram as TelegramSettings
from receiver.messages import strip_markup

log = logging.getLogger("d76.dispatcher")


def make_bot(settings: TelegramSettings) -> Bot:
    """The one way a Bot is made: the configured API URL, the token, every timeout bounded.
    Its getUpdates request waits the long-poll period on top of the timeout."""
    assert settings.bot_token is not None
    timeout = settings.timeout_seconds
    return Bot(
        settings.bot_token.get_secret_value(),
        base_url=settings.api_url.rstrip("/") + "/bot",
        request=HTTPXRequest(
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            media_write_timeout=timeout,  # a photo's upload too (the library's default: 20 s)
            pool_timeout=timeout,
        ),
        get_updates_request=HTTPXRequest(
            connect_timeout=timeout, read_timeout=settings.poll_timeout_seconds + timeout
        ),
    )


def keyboard(signed: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """Inline buttons from (label, signed callback data) pairs, a longer one ("Mute until
    resolved") on a row of its own; None for none."""
    if not signed:
        return None
    buttons = [InlineKeyboardButton(label, callback_data=data) for label, data in signed]
    short = [b for b in buttons if len(b.text) <= 14]
    long = [[b] for b in buttons if len(b.text) > 14]
    return InlineKeyboardMarkup(([short] if short else []) + long)


class _Migrated(Exception):
    """The chat moved (group -> supergroup); the chat id has been updated: send again."""


class _EntityError(Exception):
    """Telegram refused the message's HTML entities (400 "can't parse entities")."""


class TelegramChannel:
    def __init__(self, settings: TelegramSettings, target: str = "telegram") -> None:
        # Opt in to python-telegram-bot's coming timedelta periods (RetryAfter.retry_after);
        # otherwise every 429 also raises a deprecation warning. _translate accepts both.
        os.environ.setdefault("PTB_TIMEDELTA", "1")
        self.name = target
        self._settings = settings
        self._configured_chat = settings.chat_for(target) or ""
        self._topic = settings.topic_for(target)  # a forum topic: message_thread_id
        self._chat_id = telegram_buttons.current_chat(settings.api_url, self._configured_chat)
        self._loop = asyncio.new_event_loop()
        self._bot: Bot | None = None

    def _ensure_bot(self) -> Bot:
        if not self._settings.configured:
            raise NotConfigured("telegram: TELEGRAM_BOT_TOKEN or TELEGRAM_CHAT_ID is not set")
        if not self._configured_chat:
            raise NotConfigured(f"{self.name}: its chat is not set (TELEGRAM_ESCALATION_CHAT_ID)")
        if self._bot is None:
            bot = make_bot(self._settings)
            self._run(bot.initialize())  # getMe: fails fast on a wrong token
            self._bot = bot
        return self._bot

    def _run(self, coro: Any) -> Any:
        try:
            return self._loop.run_until_complete(coro)
        except ChatMigrated as exc:
            # The group became a supergroup: follow it now; tell the operator to update config.
            log.error(
                "telegram chat %s migrated to %s: following it; set TELEGRAM_CHAT_ID=%s",
                self._chat_id,
                exc.new_chat_id,
                exc.new_chat_id,
            )
            self._chat_id = str(exc.new_chat_id)
            telegram_buttons.follow(
                self._settings.api_url, self._configured_chat, self._chat_id
            )  # the poller follows too
            raise _Migrated() from None
        except BadRequest as exc:
            if "parse entities" in exc.message.lower():
                raise _EntityError(exc.message) from None
            self._translate(exc)
        except TelegramError as exc:
            self._translate(exc)

    def _redact(self, text: str) -> str:
        token = self._settings.bot_token.get_secret_value() if self._settings.bot_token else ""
        return text.replace(token, "<token>") if token else text

    def _translate(self, exc: TelegramError) -> NoReturn:
        """Raise the dispatcher's error for a Bot API failure, with the token redacted."""
        detail = self._redact(f"{type(exc).__name__}: {exc.message}")
        if isinstance(exc, RetryAfter):
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise TransientError(f"telegram: rate limited, retry after {seconds:g}s", seconds)
        if isinstance(exc, InvalidToken):
            self._bot = None
            raise PermanentError("telegram: the bot token was rejected (InvalidToken)")
        # BadRequest is a NetworkError subclass: it must be tested first.
        if isinstance(exc, BadRequest | Forbidden):
            raise PermanentError(f"telegram: {detail}")
        # Everything else (TimedOut, NetworkError, which covers the Bot API's 5xx) is transient;
        # after a timeout Telegram may have posted the message all the same.
        raise TransientError(f"telegram: {detail}", outcome_unknown=isinstance(exc, TimedOut))

    def send(self, message: Outgoing) -> str | None:
        bot = self._ensure_bot()
        reply = None
        if message.reply_to:
            reply = ReplyParameters(
                message_id=int(message.reply_to), allow_sending_without_reply=True
            )

        def markup() -> InlineKeyboardMarkup | None:
            # Signed for the chat it goes to now (after a migration: the new one).
            if not (message.buttons and self._settings.buttons):
                return None
            assert self._settings.bot_token is not None
            key = telegram_buttons.key_from_token(self._settings.bot_token.get_secret_value())
            signed = telegram_buttons.sign_buttons(key, message.buttons, self._chat_id)
            return keyboard(signed)

        def attempt(text: str, parse_mode: str | None) -> Any:
            if message.photo is not None:
                return bot.send_photo(
                    chat_id=self._chat_id,
                    photo=message.photo,
                    caption=text,
                    parse_mode=parse_mode,
                    reply_parameters=reply,
                    message_thread_id=self._topic,
                )
            return bot.send_message(
                chat_id=self._chat_id,
                text=text,
                parse_mode=parse_mode,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_parameters=reply,
                reply_markup=markup(),
                message_thread_id=self._topic,
            )

        try:
            try:
                sent = self._run(attempt(message.text, ParseMode.HTML))
            except _Migrated:
                sent = self._run(attempt(message.text, ParseMode.HTML))
        except _EntityError:
            # Telegram could not parse the markup: the message matters more than its bold.
            log.warning("telegram rejected the HTML of a message; sending it as plain text")
            sent = self._run(attempt(strip_markup(message.text), None))
        return str(sent.message_id)

    def close(self) -> None:
        if self._bot is not None:
            with contextlib.suppress(TelegramError):
                self._loop.run_until_complete(self._bot.shutdown())
        self._loop.close()
