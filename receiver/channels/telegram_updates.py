"""Ack and Silence, pressed under a Telegram message, read by long-polling ``getUpdates``.

No public HTTPS endpoint is needed. Only one poller may read a bot's updates, so the
dispatchers elect one with a PostgreSQL advisory lock; the others wait and take over if it
dies. Only presses in the configured chat (or the supergroup it migrated to), by allowed users
(if a list is configured), carrying data signed for that chat and pressed under the message
sent for that alert, count (``receiver.buttons``); anything else is answered and confirmed.
The loop is supervised: after any error it logs and polls again.

- Ack marks the history row acknowledged (who, when) and edits the message to say so. It is a
  state, not a silence: the resolved message still arrives.
- Silence creates an Alertmanager silence matching the alert's exact labels for
  ``silence_hours`` (visible in the Alertmanager UI) and edits the message to say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from telegram import Bot, CallbackQuery
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, TelegramError

from receiver import messages, store
from receiver.channels import telegram_buttons
from receiver.channels.telegram import keyboard, make_bot
from receiver.config import Settings

log = logging.getLogger("d76.telegram")
LOCK = "d76-telegram-updates"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


class UpdatePoller:
    """Reads button presses while this process holds the poller lock, and answers each.

    Longer than the house's usual class: a press is checked (signature, chat, user, bound
    message), acted on (acknowledge, or a silence in Alertmanager) and its message edited, and
    these steps share the bot, the event loop and the leader lock.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._tg = settings.telegram
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telegram-updates", daemon=True)
        self._offset: int | None = None
        self._http = httpx.Client(timeout=10)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

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
            self._http.close()

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
            log.info("reading Telegram button presses (getUpdates)")
            while not self._stop.is_set():
                updates = loop.run_until_complete(
                    bot.get_updates(
                        offset=self._offset,
                        timeout=self._tg.poll_timeout_seconds,
                        allowed_updates=["callback_query"],
                    )
                )
                for update in updates:
                    # Confirmed before it is handled: a press that fails is never read again.
                    self._offset = update.update_id + 1
                    if update.callback_query is not None:
                        self._handle_safely(loop, bot, conn, update.callback_query)
        finally:
            conn.close()

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

    def _chat_matches(self, loop: asyncio.AbstractEventLoop, bot: Bot, chat_id: str) -> bool:
        """Is ``chat_id`` the configured chat, or the supergroup it migrated to?"""
        configured = self._tg.chat_id or ""
        if chat_id == telegram_buttons.current_chat(self._tg.api_url, configured):
            return True
        # Another dispatcher's channel may have followed a migration: ask Telegram whether the
        # chat we know became this one (getChat on a migrated group answers ChatMigrated).
        try:
            loop.run_until_complete(
                bot.get_chat(telegram_buttons.current_chat(self._tg.api_url, configured))
            )
        except ChatMigrated as exc:
            if str(exc.new_chat_id) == chat_id:
                log.error(
                    "telegram chat %s migrated to %s: following it; set TELEGRAM_CHAT_ID=%s",
                    configured,
                    chat_id,
                    chat_id,
                )
                telegram_buttons.follow(self._tg.api_url, configured, chat_id)
                return True
        except TelegramError as exc:
            log.warning("getChat failed: %s", type(exc).__name__)
        return False

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
        allowed = not self._tg.allowed_user_ids or user.id in self._tg.allowed_user_ids
        # The allow-list first: a stranger's press costs no Bot API call.
        in_chat = allowed and self._chat_matches(loop, bot, chat_id)
        bound = in_chat and telegram_buttons.is_alert_message(
            conn, pressed.alert_id, message.message_id
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
            try:
                silence_id, ends = self._silence(view.labels, actor, view.title)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.error("silence for alert %s failed: %s", view.alert_id, exc)
                self._answer(loop, press, f"Silence failed: {type(exc).__name__}", alert=True)
                return
            store.record_action(
                conn, view.alert_id, "silence", actor, {"silenceID": silence_id, "endsAt": ends}
            )
            note = f"Silenced until {ends[11:16]} UTC"
        actions = store.actions_for(conn, view.alert_id)
        text = "\n".join([messages.telegram_text(view), *messages.telegram_action_lines(actions)])
        acked = any(a.action == "ack" for a in actions)
        signed = telegram_buttons.sign_buttons(
            key, messages.telegram_buttons(view.alert_id, acknowledged=acked), chat_id
        )
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

    def _silence(self, labels: dict[str, str], actor: str, title: str) -> tuple[str, str]:
        now = datetime.now(UTC)
        ends = _iso(now + timedelta(hours=self._tg.silence_hours))
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in sorted(labels.items())
            ],
            "startsAt": _iso(now),
            "endsAt": ends,
            "createdBy": actor,
            "comment": f"Silenced from Telegram: {title}",
        }
        url = f"{self._settings.alertmanager_url.rstrip('/')}/api/v2/silences"
        response = self._http.post(url, json=body)
        response.raise_for_status()
        return str(response.json()["silenceID"]), ends
