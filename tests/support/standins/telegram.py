"""A local stand-in for the Telegram Bot API, speaking its wire protocol.

Serves ``/bot<token>/<method>`` for getMe, sendMessage, sendPhoto (multipart, the picture
checked to be a PNG or JPEG), getUpdates, answerCallbackQuery, editMessageText and getChat
(which answers "upgraded" for a chat that migrated), and serves chat messages (``say``: a
command typed in a chat, in a forum topic or not) through getUpdates, with parameters as form
fields (how python-telegram-bot sends them), multipart or JSON, and answers with real-shaped
``Message`` objects. Tests can queue failures (429 with ``retry_after``, 5xx, 400) and add
latency.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_ID = 7000001
TOKEN = f"{BOT_ID}:STANDIN-token-for-tests"
CHAT = "-100777"  # the chat the stand-in knows unless told others


@dataclass
class SentMessage:
    message_id: int
    chat_id: str
    text: str
    parse_mode: str | None
    reply_to: int | None
    received_at: float = field(default_factory=time.monotonic)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, callback data)
    edits: list[str] = field(default_factory=list)  # texts it was edited to, in order
    thread_id: int | None = None  # the forum topic (message_thread_id) it was sent to
    photo: bytes | None = None  # sendPhoto's picture (``text`` is then its caption)


def _buttons(markup: Any) -> list[tuple[str, str]]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = (markup or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    method: str | None = None  # only this Bot API method fails (None: the next call, any)


_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "tg-spoiler",
    "blockquote",
    "span",
}
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def _html_problem(text: str) -> str | None:
    """Why Telegram's HTML parse mode would refuse ``text``, or None (its documented rules:
    supported tags only, properly nested, every & < > outside tags escaped)."""
    stack: list[str] = []
    for match in re.finditer(r"<(/?)([a-zA-Z-]*)[^>]*>|&|<|>", text):
        token = match.group(0)
        if token == "&":
            if not _ENTITY.match(text, match.start()):
                return f"unescaped & at byte offset {match.start()}"
        elif token in ("<", ">"):
            return f"unescaped {token} at byte offset {match.start()}"
        else:
            closing, name = match.group(1), match.group(2).lower()
            if name not in _TAGS:
                return f'unsupported start tag "{name}" at byte offset {match.start()}'
            if closing:
                if not stack or stack.pop() != name:
                    return f'unexpected end tag "{name}" at byte offset {match.start()}'
            else:
                stack.append(name)
    return f'unclosed start tag "{stack[-1]}"' if stack else None


PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


def _bad(description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": 400, "description": description}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def multipart_fields(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart/form-data body's fields: files as bytes, the rest as text."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[str(name)] = data if part.get_filename() else data.decode()
    return fields


class TelegramStandin:
    def __init__(self, token: str = TOKEN, chat_ids: tuple[str, ...] = (CHAT,)) -> None:
        self.token = token
        self.chat_ids = set(chat_ids)
        self.messages: list[SentMessage] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.failures: deque[Failure] = deque()
        self.delay_seconds = 0.0
        self.down_status: int | None = None  # while set, every call answers this status
        self.updates: list[dict[str, Any]] = []  # served by getUpdates
        self.answers: list[dict[str, Any]] = []  # answerCallbackQuery calls
        self.migrated: dict[str, int] = {}  # old chat id -> the supergroup it became
        # Called with each message sent, before sendMessage is answered (someone quick).
        self.on_sent: Callable[[SentMessage], None] | None = None
        self._lock = threading.Lock()
        self._update_arrived = threading.Condition(self._lock)
        self._next_id = 100
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- control -----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> TelegramStandin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(
        self,
        count: int,
        status: int,
        description: str = "",
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        method: str | None = None,
    ) -> None:
        with self._lock:
            for _ in range(count):
                self.failures.append(
                    Failure(
                        status,
                        description or HTTPStatus(status).phrase,
                        retry_after,
                        migrate_to_chat_id,
                        method,
                    )
                )

    def sent(self) -> list[SentMessage]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, predicate: Any, timeout: float) -> SentMessage:
        """The first message matching ``predicate`` within ``timeout`` s, or AssertionError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.sent():
                if predicate(message):
                    return message
            time.sleep(0.05)
        texts = "\n---\n".join(m.text for m in self.sent()) or "(none)"
        raise AssertionError(f"no matching Telegram message within {timeout}s; got:\n{texts}")

    # -- Bot API -----------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "D76 Standin",
            "username": "d76_standin_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append((method, params))
            failure = next((f for f in self.failures if f.method in (None, method)), None)
            if failure is not None:
                self.failures.remove(failure)
        if failure is None and self.down_status is not None and method != "getUpdates":
            failure = Failure(self.down_status, HTTPStatus(self.down_status).phrase)
        if failure is not None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            if failure.migrate_to_chat_id is not None:
                body["parameters"] = {"migrate_to_chat_id": failure.migrate_to_chat_id}
                self.chat_ids.add(str(failure.migrate_to_chat_id))
                with self._lock:
                    self.migrated[str(params.get("chat_id", ""))] = failure.migrate_to_chat_id
            return failure.status, body
        if method == "getMe":
            return 200, {"ok": True, "result": self._bot_user()}
        if method == "sendMessage":
            return self._send_message(params)
        if method == "sendPhoto":
            return self._send_photo(params)
        if method == "getUpdates":
            return self._get_updates(params)
        if method == "answerCallbackQuery":
            with self._lock:
                self.answers.append(params)
            return 200, {"ok": True, "result": True}
        if method == "editMessageText":
            return self._edit_message(params)
        if method == "getChat":
            return self._get_chat(params)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    def _send_photo(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
        if not isinstance(photo, bytes) or not photo.startswith((PNG, JPEG)):
            return 400, _bad("Bad Request: IMAGE_PROCESS_FAILED")
        return self._send_message(params, photo=photo)

    def _send_message(
        self, params: dict[str, Any], photo: bytes | None = None
    ) -> tuple[int, dict[str, Any]]:
        chat_id = str(params.get("chat_id", ""))
        text = str(params.get("caption" if photo is not None else "text", ""))
        if chat_id not in self.chat_ids:
            return 400, _bad("Bad Request: chat not found")
        if photo is not None and len(text) > 1024:
            return 400, _bad("Bad Request: message caption is too long")
        if photo is None and (not text or len(text) > 4096):
            return 400, _bad("Bad Request: message text is empty or too long")
        if params.get("parse_mode") == "HTML":
            problem = _html_problem(text)
            if problem:
                return 400, {
                    "ok": False,
                    "error_code": 400,
                    "description": f"Bad Request: can't parse entities: {problem}",
                }
        reply = params.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        reply_to = int(reply["message_id"]) if isinstance(reply, dict) else None
        with self._lock:
            self._next_id += 1
            message_id = self._next_id
            self.messages.append(
                SentMessage(
                    message_id,
                    chat_id,
                    text,
                    params.get("parse_mode"),
                    reply_to,
                    buttons=_buttons(params.get("reply_markup")),
                    thread_id=int(params["message_thread_id"])
                    if params.get("message_thread_id")
                    else None,
                    photo=photo,
                )
            )
            sent = self.messages[-1]
        if self.on_sent is not None:
            self.on_sent(sent)
        result: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "supergroup", "title": "D76 Ops"},
            "from": self._bot_user(),
        }
        if photo is None:
            result["text"] = text
        else:
            size = {"file_id": f"photo-{message_id}", "file_unique_id": f"u{message_id}"}
            width, height = png_size(photo) if photo.startswith(PNG) else (0, 0)
            result["photo"] = [{**size, "width": width, "height": height, "file_size": len(photo)}]
            result["caption"] = text
        if reply_to is not None:
            result["reply_to_message"] = {
                "message_id": reply_to,
                "date": int(time.time()),
                "chat": result["chat"],
                "text": "(original)",
            }
        return 200, {"ok": True, "result": result}

    # -- buttons ---------------------------------------------------------------------------------

    def say(
        self,
        text: str,
        chat_id: str = "-100777",
        user_id: int = 4242,
        username: str = "alice",
        thread_id: int | None = None,
    ) -> int:
        """Someone writes ``text`` in the chat (in forum topic ``thread_id``): a ``message``
        update, with a bot_command entity when it starts with "/" (as Telegram sends it).
        Returns the message's id."""
        with self._update_arrived:
            update_id = len(self.updates) + 1
            self._next_id += 1
            message: dict[str, Any] = {
                "message_id": self._next_id,
                "date": int(time.time()),
                "chat": {"id": int(chat_id), "type": "supergroup", "title": "D76 Ops"},
                "from": {"id": user_id, "is_bot": False, "first_name": username,
                         "username": username},
                "text": text,
            }  # fmt: skip
            if text.startswith("/"):
                length = len(text.split()[0].encode("utf-16-le")) // 2
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
            if thread_id is not None:
                message["message_thread_id"] = thread_id
                message["is_topic_message"] = True
                message["chat"]["is_forum"] = True
            self.updates.append({"update_id": update_id, "message": message})
            self._update_arrived.notify_all()
            return int(self._next_id)

    def press(
        self, message: SentMessage, data: str, user_id: int = 4242, username: str = "alice"
    ) -> None:
        """Someone presses the inline button carrying ``data`` under ``message``."""
        with self._update_arrived:
            update_id = len(self.updates) + 1
            self.updates.append(
                {
                    "update_id": update_id,
                    "callback_query": {
                        "id": f"cq{update_id}",
                        "chat_instance": "ci1",
                        "data": data,
                        "from": {
                            "id": user_id,
                            "is_bot": False,
                            "first_name": username,
                            "username": username,
                        },
                        "message": {
                            "message_id": message.message_id,
                            "date": int(time.time()),
                            "chat": {
                                "id": int(message.chat_id),
                                "type": "supergroup",
                                "title": "D76 Ops",
                            },
                            "text": message.text,
                        },
                    },
                }
            )
            self._update_arrived.notify_all()

    def _get_updates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 30.0)
        deadline = time.monotonic() + timeout
        with self._update_arrived:
            while True:
                pending = [u for u in self.updates if u["update_id"] >= offset]
                remaining = deadline - time.monotonic()
                if pending or remaining <= 0:
                    return 200, {"ok": True, "result": pending}
                self._update_arrived.wait(remaining)

    def _get_chat(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = str(params.get("chat_id", ""))
        if chat_id in self.migrated:  # what Telegram answers for a group that was upgraded
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": self.migrated[chat_id]},
            }
        if chat_id not in self.chat_ids:
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat not found",
            }
        chat = {"id": int(chat_id), "type": "supergroup", "title": "D76 Ops"}
        return 200, {"ok": True, "result": chat}

    def _edit_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        message_id = int(params.get("message_id", 0))
        text = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML" and (problem := _html_problem(text)):
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": f"Bad Request: can't parse entities: {problem}",
            }
        with self._lock:
            for message in self.messages:
                if message.message_id == message_id:
                    message.edits.append(text)
                    message.buttons = _buttons(params.get("reply_markup"))
                    result = {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": {"id": int(message.chat_id), "type": "supergroup"},
                        "text": text,
                    }
                    return 200, {"ok": True, "result": result}
        return 400, {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message to edit not found",
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _params(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                kind = self.headers.get("Content-Type", "")
                if kind.startswith("application/json"):
                    return json.loads(raw or b"{}")
                if kind.startswith("multipart/form-data"):
                    return multipart_fields(kind, raw)
                return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

            def _dispatch(self) -> None:
                prefix = f"/bot{standin.token}/"
                params = self._params()
                if standin.delay_seconds:
                    time.sleep(standin.delay_seconds)
                if not self.path.startswith(prefix):
                    self._answer(
                        401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    )
                    return
                status, body = standin._call(self.path[len(prefix) :].split("?")[0], params)
                self._answer(status, body)

            do_GET = _dispatch
            do_POST = _dispatch

        return Handler
