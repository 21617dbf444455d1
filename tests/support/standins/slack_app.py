"""A local stand-in for Slack's Web API and Socket Mode, speaking their wire protocols.

Web API: ``POST /api/<method>`` with a bearer token (the bot token; the app token for
``apps.connections.open``), form or JSON parameters, answering Slack's ``{"ok": ...}``
envelopes: auth.test, chat.postMessage (with ``thread_ts``), chat.update, chat.postEphemeral,
apps.connections.open (a ws:// URL of this stand-in), and a file upload as ``files_upload_v2``
makes it (files.getUploadURLExternal, the bytes POSTed to that URL, then
files.completeUploadExternal into a channel and thread). Failures can be queued (429 with
Retry-After, 5xx, ``ok: false`` errors).

Socket Mode: a WebSocket server that greets each connection with ``hello`` and pushes
``interactive`` envelopes (``press``: a user pressing a button of a posted message); the
client's acknowledgements (``{"envelope_id": ...}``) are recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

BOT_TOKEN = "xoxb-1111-2222-standinbottoken"
APP_TOKEN = "xapp-1-A111-3333-standinapptoken"
CRITICAL, ALERTS = "C0CRITICAL", "C0ALERTS1"


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    thread_ts: str | None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # chat.update bodies, in order
    file: bytes | None = None  # an uploaded file's bytes (``text`` is its initial comment)

    @property
    def buttons(self) -> dict[str, str]:
        """action_id -> value of the buttons it carries now (after its last update)."""
        blocks = self.updates[-1].get("blocks", []) if self.updates else self.blocks
        return {
            e["action_id"]: e["value"]
            for b in blocks or []
            if b.get("type") == "actions"
            for e in b.get("elements", [])
        }


def _list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = json.loads(value) if value else []
    return list(value or [])


class SlackAppStandin:
    def __init__(self) -> None:
        self.posted: list[Posted] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.acks: list[str] = []  # envelope ids the client acknowledged
        self.failures: deque[tuple[int, str, int | None]] = deque()
        self.uploads: dict[str, bytes | None] = {}  # file id -> its bytes once POSTed
        self._lock = threading.Lock()
        self._next = 0
        self._sockets: list[ServerConnection] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self._ws: Server = serve(self._socket, "127.0.0.1", 0)
        self._threads = [
            threading.Thread(target=self._http.serve_forever, daemon=True),
            threading.Thread(target=self._ws.serve_forever, daemon=True),
        ]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/api/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/link/?ticket=standin"

    def start(self) -> SlackAppStandin:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._ws.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)

    def fail_next(self, status: int, error: str, retry_after: int | None = None) -> None:
        with self._lock:
            self.failures.append((status, error, retry_after))

    def wait_for(self, predicate: Any, timeout: float) -> Posted:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [p for p in self.posted if predicate(p)]
            if found:
                return found[0]
            time.sleep(0.05)
        texts = "\n---\n".join(p.text for p in self.posted) or "(none)"
        raise AssertionError(f"no matching Slack message within {timeout}s; got:\n{texts}")

    # -- Socket Mode -------------------------------------------------------------------------

    def _socket(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "connection_info": {"app_id": "A111"}}))  # fmt: skip
        with self._lock:
            self._sockets.append(connection)
        try:
            for raw in connection:
                body = json.loads(raw)
                if "envelope_id" in body:
                    with self._lock:
                        self.acks.append(str(body["envelope_id"]))
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._sockets.remove(connection)

    def connected(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._sockets:
                    return
            time.sleep(0.05)
        raise AssertionError("no Socket Mode connection")

    def press(self, message: Posted, action_id: str, user: str, value: str | None = None) -> str:
        """``user`` presses the button ``action_id`` under ``message``; the envelope id."""
        with self._lock:
            self._next += 1
            envelope = f"env-{self._next}"
            connection = self._sockets[0]
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower()},
            "channel": {"id": message.channel},
            "container": {"type": "message", "message_ts": message.ts,
                          "channel_id": message.channel},
            "message": {"ts": message.ts, "text": message.text},
            "actions": [{"type": "button", "action_id": action_id,
                         "value": value if value is not None else message.buttons.get(action_id),
                         "block_id": "d76_actions", "action_ts": str(time.time())}],
        }  # fmt: skip
        envelope_body = {"envelope_id": envelope, "type": "interactive", "payload": payload,
                         "accepts_response_payload": False}  # fmt: skip
        connection.send(json.dumps(envelope_body))
        return envelope

    # -- Web API -----------------------------------------------------------------------------

    def _call(self, method: str, token: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            failure = self.failures.popleft() if self.failures else None
        if failure is not None:
            status, error, _ = failure
            return status, {"ok": False, "error": error}
        wanted = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != wanted:
            return 200, {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return 200, {"ok": True, "user_id": "U0BOT", "team_id": "T0D76", "bot_id": "B0D76"}
        if method == "apps.connections.open":
            return 200, {"ok": True, "url": self.ws_url}
        if method == "files.getUploadURLExternal":
            with self._lock:
                self._next += 1
                file_id = f"F{self._next:08d}"
                self.uploads[file_id] = None
            port = self._http.server_address[1]
            url = f"http://127.0.0.1:{port}/upload/{file_id}"
            return 200, {"ok": True, "upload_url": url, "file_id": file_id}
        if method == "files.completeUploadExternal":
            return self._complete_upload(params)
        channel = str(params.get("channel", ""))
        if channel not in (CRITICAL, ALERTS):
            return 200, {"ok": False, "error": "channel_not_found"}
        if method == "chat.postMessage":
            with self._lock:
                self._next += 1
                ts = f"{int(time.time())}.{self._next:06d}"
                self.posted.append(
                    Posted(channel, ts, str(params.get("text", "")), params.get("thread_ts"),
                           _list(params.get("blocks")), _list(params.get("attachments")))
                )  # fmt: skip
            return 200, {"ok": True, "channel": channel, "ts": ts}
        if method == "chat.update":
            with self._lock:
                for posted in self.posted:
                    if posted.ts == params.get("ts") and posted.channel == channel:
                        posted.updates.append({**params, "blocks": _list(params.get("blocks"))})
                        return 200, {"ok": True, "channel": channel, "ts": posted.ts}
            return 200, {"ok": False, "error": "message_not_found"}
        if method == "chat.postEphemeral":
            with self._lock:
                self.ephemeral.append(params)
            return 200, {"ok": True, "message_ts": str(time.time())}
        return 404, {"ok": False, "error": "unknown_method"}

    def _complete_upload(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel = str(params.get("channel_id", ""))
        if channel not in (CRITICAL, ALERTS):
            return 200, {"ok": False, "error": "channel_not_found"}
        files = _list(params.get("files"))
        with self._lock:
            data = [self.uploads.get(str(f.get("id"))) for f in files]
            if not files or any(d is None for d in data):
                return 200, {"ok": False, "error": "file_not_found"}
            self._next += 1
            ts = f"{int(time.time())}.{self._next:06d}"
            self.posted.append(
                Posted(channel, ts, str(params.get("initial_comment", "")),
                       params.get("thread_ts"), file=data[0])
            )  # fmt: skip
        return 200, {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.path.startswith("/upload/"):  # the upload URL: the file's bytes
                    file_id = self.path.removeprefix("/upload/")
                    with standin._lock:
                        known = file_id in standin.uploads
                        if known:
                            standin.uploads[file_id] = raw
                    self.send_response(200 if known else 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or b"{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                method = self.path.split("?")[0].removeprefix("/api/")
                status, body = standin._call(method, token, params)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(data)

        return Handler
