"""Signed, bound callback data for the Telegram Ack, Silence and Mute buttons.

The Bot API says clients can send any callback data, so the data under a button is signed:
``<action>:<alert id>:<mac>``, where the mac is an HMAC-SHA256 (truncated to 96 bits, 16
base64url characters) of the action, the alert id and the chat the message was sent to,
keyed by a key derived from the bot token. It fits Telegram's 64-byte limit (at most 44
bytes). A press is honoured only if

- the mac verifies for the chat the press came from (data copied to another chat, edited by
  a client, or signed under an old token is refused), and
- the pressed message is one the dispatcher sent to Telegram for that alert: its page or one
  of its reminders (each carries the buttons), or a second copy of either whose first send's
  outcome was lost. Data copied from alert B's message under alert A's message is refused.
  Message ids are only known after sending, hence the lookup.

Rotating the bot token changes the key: buttons sent before say "expired".

The chat a group became (group -> supergroup migration) is followed within the process: the
channel records it here when Telegram tells it, and the update poller reads it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from dataclasses import dataclass

import psycopg2.extensions

ACTIONS = ("ack", "silence", "mute")
MAX_BYTES = 64  # Telegram's limit for callback_data
_DATA = re.compile(r"^(ack|silence|mute):([0-9]{1,18}):([A-Za-z0-9_-]{16})$", re.ASCII)


@dataclass(frozen=True)
class Press:
    action: str
    alert_id: int


def key_from_token(bot_token: str) -> bytes:
    """The signing key: derived from the bot token, so it is as secret as the token."""
    return hmac.new(b"d76-telegram-callback-data", bot_token.encode(), hashlib.sha256).digest()


def _mac(key: bytes, action: str, alert_id: int, chat_id: str) -> str:
    digest = hmac.new(key, f"{action}:{alert_id}:{chat_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()


def sign(key: bytes, data: str, chat_id: str) -> str:
    """``ack:<id>`` / ``silence:<id>`` (as ``render.telegram_buttons`` makes it) -> signed."""
    action, _, ident = data.partition(":")
    if action not in ACTIONS or not ident.isascii() or not ident.isdigit():
        raise ValueError(f"not button data: {data!r}")
    signed = f"{action}:{int(ident)}:{_mac(key, action, int(ident), str(chat_id))}"
    assert len(signed.encode()) <= MAX_BYTES
    return signed


def verify(key: bytes, data: str | None, chat_id: str) -> Press | None:
    """The press the data names if its mac is right for ``chat_id``; None for anything else
    (garbage, unsigned data from an older version, another chat's data, a forged mac)."""
    match = _DATA.match(data or "")
    if match is None:
        return None
    action, alert_id = match.group(1), int(match.group(2))
    if not hmac.compare_digest(match.group(3), _mac(key, action, alert_id, str(chat_id))):
        return None
    return Press(action, alert_id)


def sign_buttons(
    key: bytes, buttons: tuple[tuple[str, str], ...], chat_id: str
) -> list[tuple[str, str]]:
    return [(label, sign(key, data, chat_id)) for label, data in buttons]


# One statement, so one snapshot: the record of a message id and the end of its send are one
# write, and a press is never judged between them.
_MESSAGE = """
SELECT EXISTS (SELECT 1 FROM notification n
                 LEFT JOIN notification_attempt t
                        ON t.notification_id = n.id AND t.alert_ts = n.alert_ts
                WHERE n.alert_id = %(alert)s AND n.target = %(target)s
                  AND n.kind IN ('firing', 'reminder', 'escalation')
                  AND (n.message_id = %(message)s OR t.message_id = %(message)s)),
       EXISTS (SELECT 1 FROM notification n
                WHERE n.alert_id = %(alert)s AND n.target = %(target)s
                  AND n.kind IN ('firing', 'reminder', 'escalation') AND n.state = 'sending')
"""


def _message_state(
    conn: psycopg2.extensions.connection, alert_id: int, message_id: int | str, target: str
) -> tuple[bool, bool]:
    """Whether ``message_id`` is recorded as a message with buttons for ``alert_id`` sent to
    ``target``, and whether one such message is being sent right now (in the chat, its id not
    yet recorded)."""
    with conn, conn.cursor() as cur:
        cur.execute(_MESSAGE, {"alert": alert_id, "message": str(message_id), "target": target})
        row = cur.fetchone()
    return (bool(row[0]), bool(row[1])) if row else (False, False)


def is_alert_message(
    conn: psycopg2.extensions.connection,
    alert_id: int,
    message_id: int | str,
    target: str = "telegram",
    *,
    wait_seconds: float = 5.0,
) -> bool:
    """Whether ``message_id`` is a message sent with buttons for ``alert_id`` to ``target`` (the
    chat it was pressed in): its page, a reminder or its escalation, as recorded on the
    notification or on any of its attempts.

    While a send of the alert is under way, waits up to ``wait_seconds`` for its record: a
    press that comes between Telegram's answer and the dispatcher's commit is the same press
    a moment later, not a stranger's."""
    deadline = time.monotonic() + wait_seconds
    while True:
        recorded, sending = _message_state(conn, alert_id, message_id, target)
        if recorded or not sending or time.monotonic() >= deadline:
            return recorded
        time.sleep(0.2)


# -- the chat a migrated group became, shared by the channel and the poller in one process -----

_followed: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def follow(api_url: str, configured: str, new_chat_id: str) -> None:
    """Record that the chat configured as ``configured`` (on that Bot API) is now another."""
    with _lock:
        _followed[(api_url, str(configured))] = str(new_chat_id)


def current_chat(api_url: str, configured: str) -> str:
    with _lock:
        return _followed.get((api_url, str(configured)), str(configured))
