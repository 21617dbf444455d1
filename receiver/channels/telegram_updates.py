"""Ack, Silence and Mute pressed under a Telegram message, and chat commands (/alerts, /ack,
…: ``receiver.channels.telegram_commands``), read by long-polling ``getUpdates``.

No public HTTPS endpoint is needed. Only one poller may read a bot's updates, so the
dispatchers elect one with a PostgreSQL advisory lock; the others wait and take over if it
dies. Only presses in the configured chat (or the supergroup it migrated to), by allowed users
(if a list is configured), carrying data signed for that chat and pressed under the message
sent for that alert, count (``receiver.buttons``); anything else is answered and confirmed.
The loop is supervised: after any error it logs and polls again.

- Ack marks the history row acknowledged (who, when) and edits the message to say so. It is a
  state, not a silence: the resolved message still arrives.
- Silence creates an Alertmanager silence matching the alert's exact labels for
  ``silence_hours`` (visible in the Alertmanager UI) and edits the message to say so; the
  escalation timer pauses until it ends.
- Mute until resolved creates such a silence for ``mute.max_days``; the receiver expires it
  when the alert resolves (``receiver.delivery.mutes``), and no reminder comes meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import threading
from datetime import timedelta
from typing import Any

import httpx
from telegram import Bot, CallbackQuery, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, TelegramError

from receiver import commands, links, messages, store
from receiver.channels import telegram_buttons
from receiver.channels.registry import templates_in_use
from receiver.channels.telegram import keyboard, make_bot
from receiver.channels.telegram_commands import CommandRunner
from receiver.chat_silence import AlreadyResolved, silence_alert
from receiver.config import Settings
from receiver.silences import Alertmanager

log = logging.getLogger("d76.telegram")
LOCK = "d76-telegram-updates"
_CHAT_VARIABLE = {
    "telegram": "TELEGRAM_CHAT_ID",
    "telegram_escalation": "TELEGRAM_ESCALATION_CHAT_ID",
}


def _chat_variable(target: str) -> str:
    """Where the chat of ``target`` is configured (to tell the operator what to change)."""
    return _CHAT_VARIABLE.get(target, f"telegram.chats.{target.removeprefix('telegram_')}.chat_id")


class UpdatePoller:
    """Reads button presses and commands while this process holds the poller lock, and
    answers each.

    Longer than the house's usual module (~310 lines) and class: a press is checked
    (signature, chat, user, bound message), acted on (acknowledge, or a silence in
    Alertmanager) and its message edited, and a command is checked (chat, user) and answered;
    these steps share the bot, the event loop and the leader lock. What a command does lives
    in ``telegram_commands``.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._tg = settings.telegram
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telegram-updates", daemon=True)
        self._offset: int | None = None
        self._am = Alertmanager(settings.alertmanager_url)
        self._commands = CommandRunner(settings, self._am)
        self._links = links.base_for(settings)  # the message keeps its links when edited

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        """Supervised: whatever goes wrong, log it and poll again, with a growing pause."""
        loop = asyncio.new_event_loop()
        backoff = 1.0
        try:
            while not self._stop.is_set():
                try:
                    self._poll_while_leader(loop)
                    backoff = 1.0
                except store.UNAVAILABLE as exc:
                    log.warning("database unavailable for the update poller: %s", exc)
                except TelegramError as exc:
                    log.warning("getUpdates failed: %s", type(exc).__name__)
                except Exception:
                    log.exception("the update poller failed; restarting it in %.0fs", backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                self._stop.wait(2.0)
        finally:
            loop.close()
            self._am.close()
            self._commands.close()

    def _bot(self) -> Bot:
        return make_bot(self._tg)

    def _poll_while_leader(self, loop: asyncio.AbstractEventLoop) -> None:
        conn = store.connect(self._settings.dsn)
        try:
            if not store.try_singleton_lock(conn, LOCK):
                self._stop.wait(8.0)  # another dispatcher polls; check again later
                return
            bot = self._bot()
            loop.run_until_complete(bot.initialize())
            log.info("reading Telegram button presses and commands (getUpdates)")
            while not self._stop.is_set():
                updates = loop.run_until_complete(
                    bot.get_updates(
                        offset=self._offset,
                        timeout=self._tg.poll_timeout_seconds,
                        allowed_updates=["callback_query", "message"],
                    )
                )
                for update in updates:
                    # Confirmed before it is handled: a press that fails is never read again.
                    self._offset = update.update_id + 1
                    if update.callback_query is not None:
                        self._handle_safely(loop, bot, conn, update.callback_query)
                    elif update.message is not None and (update.message.text or "")[:1] == "/":
                        self._command(loop, bot, conn, update.message)
        finally:
            conn.close()

    # -- one command --------------------------------------------------------------------------

    def _command(
        self, loop: asyncio.AbstractEventLoop, bot: Bot, conn: Any, message: Message
    ) -> None:
        """A /command in a configured chat by an allowed user: run it and answer in the chat
        (a reply, in the message's topic). Commands elsewhere are ignored, and logged."""
        user = message.from_user
        actor = (
            f"telegram:@{user.username}"
            if user and user.username
            else f"telegram:{user and user.id}"
        )
        target = self._chat_target(loop, bot, str(message.chat.id))
        if target is None:
            log.warning("ignored a command by %s in chat %s: not a configured chat", actor,
                        message.chat.id)  # fmt: skip
            return
        if user is None or self._tg.allowed_in(target, user.id) is not True:
            log.warning("refused a command by %s: not in TELEGRAM_ALLOWED_USER_IDS", actor)
            self._reply(loop, bot, message, "Not allowed: commands are for the users in "
                        "TELEGRAM_ALLOWED_USER_IDS.")  # fmt: skip
            return
        try:
            command = commands.parse(message.text or "", bot.username)
            if command is None:
                return
            answer = self._commands.run(conn, command, actor)
        except commands.CommandError as exc:
            answer = html.escape(str(exc), quote=False)
        except store.UNAVAILABLE:
            self._reply(loop, bot, message, "Not done: the database is unavailable. Try again.")
            raise
        except Exception:
            log.exception("command %r failed", (message.text or "")[:64])
            answer = "Failed; see the dispatcher log."
        self._reply(loop, bot, message, answer)

    def _reply(
        self, loop: asyncio.AbstractEventLoop, bot: Bot, message: Message, text: str
    ) -> None:
        try:
            loop.run_until_complete(
                bot.send_message(
                    chat_id=message.chat.id,
                    text=text[:4096],
                    parse_mode=ParseMode.HTML,
                    reply_parameters=ReplyParameters(
                        message_id=message.message_id, allow_sending_without_reply=True
                    ),
                    message_thread_id=message.message_thread_id
                    if message.is_topic_message
                    else None,
                )
            )
        except TelegramError as exc:
            log.warning("answering a command failed: %s", type(exc).__name__)

    # -- one press ----------------------------------------------------------------------------

    def _handle_safely(
        self, loop: asyncio.AbstractEventLoop, bot: Bot, conn: Any, press: CallbackQuery
    ) -> None:
        """One press; whatever it carries, it is answered and never stops the poller."""
        try:
            self._handle(loop, bot, conn, press)
        except store.UNAVAILABLE:
            self._answer(loop, press, "Not recorded: the database is unavailable. Try again.")
            raise
        except Exception:
            log.exception("button press %r could not be handled", (press.data or "")[:64])
            self._answer(loop, press, "Failed; see the dispatcher log.")

    def _answer(
        self, loop: asyncio.AbstractEventLoop, press: CallbackQuery, text: str, alert: bool = False
    ) -> None:
        try:
            loop.run_until_complete(press.answer(text, show_alert=alert))
        except TelegramError as exc:  # e.g. "query is too old": nothing more to do
            log.warning("answerCallbackQuery failed: %s", type(exc).__name__)

    def _chat_target(self, loop: asyncio.AbstractEventLoop, bot: Bot, chat_id: str) -> str | None:
        """The target whose chat ``chat_id`` is (a configured chat, or the supergroup it
        migrated to); None for any other chat."""
        api = self._tg.api_url
        chats = self._tg.chat_targets()
        for configured, target in chats.items():
            if chat_id == telegram_buttons.current_chat(api, configured):
                return target
        # Another dispatcher's channel may have followed a migration: ask Telegram whether a
        # chat we know became this one (getChat on a migrated group answers ChatMigrated).
        for configured, target in chats.items():
            try:
                loop.run_until_complete(
                    bot.get_chat(telegram_buttons.current_chat(api, configured))
                )
            except ChatMigrated as exc:
                if str(exc.new_chat_id) == chat_id:
                    log.error(
                        "telegram chat %s migrated to %s: following it; set %s=%s",
                        configured, chat_id, _chat_variable(target), chat_id,
                    )  # fmt: skip
                    telegram_buttons.follow(api, configured, chat_id)
                    return target
            except TelegramError as exc:
                log.warning("getChat failed: %s", type(exc).__name__)
        return None

    def _handle(
        self, loop: asyncio.AbstractEventLoop, bot: Bot, conn: Any, press: CallbackQuery
    ) -> None:
        user = press.from_user
        actor = f"telegram:@{user.username}" if user.username else f"telegram:{user.id}"
        message = press.message
        chat_id = str(message.chat.id) if message is not None else ""
        assert self._tg.bot_token is not None
        key = telegram_buttons.key_from_token(self._tg.bot_token.get_secret_value())
        pressed = telegram_buttons.verify(key, press.data, chat_id) if message is not None else None
        if pressed is None:  # garbage, forged, from an older version, or signed for elsewhere
            log.warning("refused button press %r by %s: not valid", (press.data or "")[:64], actor)
            self._answer(loop, press, "This button has expired.", alert=True)
            return
        assert message is not None
        target = self._chat_target(loop, bot, chat_id)
        in_chat = target is not None
        # The chat's own allowlist if it has one, else the global one; no list: anyone.
        allowed = target is None or self._tg.allowed_in(target, user.id) is not False
        bound = (
            allowed
            and target is not None
            and telegram_buttons.is_alert_message(
                conn, pressed.alert_id, message.message_id, target
            )
        )
        view = store.alert_view(conn, pressed.alert_id) if bound and allowed else None
        if view is None:
            why = "user" if not allowed else "chat" if not in_chat else "message"
            log.warning("refused button press %r by %s: %s not allowed", press.data, actor, why)
            self._answer(loop, press, "Not allowed here.", alert=True)
            return
        if store.fired_again(conn, view.alert_id):
            # An earlier episode's message: acting on it would leave the live page untouched.
            self._answer(loop, press, "It fired again: use the newest message.", alert=True)
            return
        if pressed.action == "ack":
            store.acknowledge(conn, view.alert_id, actor)
            note = "Acknowledged"
        else:
            mute = pressed.action == "mute"
            hours = self._settings.mute.max_days * 24 if mute else self._tg.silence_hours
            try:
                ends = silence_alert(
                    self._am, conn, view, actor, timedelta(hours=hours), mute=mute,
                    where="Telegram",
                )  # fmt: skip
            except AlreadyResolved:
                self._answer(loop, press, "It has resolved already.", alert=True)
                return
            except (httpx.HTTPError, ValueError) as exc:
                log.error("silence for alert %s failed: %s", view.alert_id, exc)
                self._answer(loop, press, f"Silence failed: {type(exc).__name__}", alert=True)
                return
            note = "Muted until resolved" if mute else f"Silenced until {ends:%H:%M} UTC"
        actions = store.actions_for(conn, view.alert_id)
        # Laid out as it was sent (the templates in use), with what was done about it.
        text = templates_in_use().telegram_text(
            view, links.for_alert(view, self._links), messages.telegram_action_lines(actions)
        )
        acked = store.alert_view(conn, view.alert_id)
        buttons = messages.telegram_buttons(
            view.alert_id,
            acknowledged=bool(acked and acked.acknowledged),
            muted=store.is_muted(conn, view.alert_id),
        )
        signed = telegram_buttons.sign_buttons(key, buttons, chat_id)
        markup = keyboard(signed)
        with contextlib.suppress(BadRequest):  # "message is not modified" on a second press
            loop.run_until_complete(
                bot.edit_message_text(
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                    text=text[:4096],
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
            )
        self._answer(loop, press, note)
        log.info("%s by %s on alert %s", note, actor, view.alert_id)
