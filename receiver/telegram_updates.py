"""Ack and Silence, pressed under a Telegram message, read by long-polling ``getUpdates``.

No public HTTPS endpoint is needed. Only one poller may read a bot's updates, so the
dispatchers elect one with a PostgreSQL advisory lock; the others wait and take over if it
dies. Only presses in the configured chat, by allowed users (if a list is configured), count.

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
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.request import HTTPXRequest

from receiver import render, store
from receiver.config import Settings

log = logging.getLogger("d76.telegram")
LOCK = "d76-telegram-updates"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


class UpdatePoller:
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
        loop = asyncio.new_event_loop()
        try:
            while not self._stop.is_set():
                try:
                    self._poll_while_leader(loop)
                except store.UNAVAILABLE as exc:
                    log.warning("database unavailable for the update poller: %s", exc)
                except TelegramError as exc:
                    log.warning("getUpdates failed: %s", type(exc).__name__)
                self._stop.wait(2.0)
        finally:
            loop.close()
            self._http.close()

    def _bot(self) -> Bot:
        assert self._tg.bot_token is not None
        timeout = self._tg.timeout_seconds
        return Bot(
            self._tg.bot_token.get_secret_value(),
            base_url=self._tg.api_url.rstrip("/") + "/bot",
            request=HTTPXRequest(connect_timeout=timeout, read_timeout=timeout),
            get_updates_request=HTTPXRequest(
                connect_timeout=timeout, read_timeout=self._tg.poll_timeout_seconds + timeout
            ),
        )

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
                    self._offset = update.update_id + 1
                    if update.callback_query is not None:
                        self._handle(loop, bot, conn, update.callback_query)
        finally:
            conn.close()

    # -- one press ----------------------------------------------------------------------------

    def _handle(
        self, loop: asyncio.AbstractEventLoop, bot: Bot, conn: Any, press: CallbackQuery
    ) -> None:
        user = press.from_user
        actor = f"telegram:@{user.username}" if user.username else f"telegram:{user.id}"
        action, _, ident = (press.data or "").partition(":")
        message = press.message
        in_chat = message is not None and str(message.chat.id) == str(self._tg.chat_id)
        allowed = not self._tg.allowed_user_ids or user.id in self._tg.allowed_user_ids
        view = store.alert_view(conn, int(ident)) if ident.isdigit() else None
        if not (in_chat and allowed and view is not None and action in ("ack", "silence")):
            log.warning(
                "ignored button press %r by %s (chat or user not allowed)", press.data, actor
            )
            loop.run_until_complete(press.answer("Not allowed here.", show_alert=True))
            return
        assert message is not None and view is not None
        if action == "ack":
            store.acknowledge(conn, view.alert_id, actor)
            note = "Acknowledged"
        else:
            try:
                silence_id, ends = self._silence(view.labels, actor, view.title)
            except (httpx.HTTPError, ValueError) as exc:
                log.error("silence for alert %s failed: %s", view.alert_id, exc)
                loop.run_until_complete(press.answer(f"Silence failed: {exc}", show_alert=True))
                return
            store.record_action(
                conn, view.alert_id, "silence", actor, {"silenceID": silence_id, "endsAt": ends}
            )
            note = f"Silenced until {ends[11:16]} UTC"
        actions = store.actions_for(conn, view.alert_id)
        text = "\n".join([render.telegram_text(view), *render.telegram_action_lines(actions)])
        acked = any(a.action == "ack" for a in actions)
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(label, callback_data=data)
                    for label, data in render.telegram_buttons(view.alert_id, acknowledged=acked)
                ]
            ]
        )
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
        loop.run_until_complete(press.answer(note))
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
