"""A local stand-in for Slack incoming webhooks: POST JSON to /services/..., answer "ok".

Records every payload per webhook path; tests can queue failures (429 with Retry-After, 5xx,
4xx such as "invalid_payload") as Slack sends them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SlackStandin:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any], float]] = []  # (path, payload, time)
        self.failures: deque[tuple[int, str, int | None]] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, channel: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/services/T0D76/{channel}/x"

    def start(self) -> SlackStandin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(
        self, count: int, status: int, body: str = "", retry_after: int | None = None
    ) -> None:
        with self._lock:
            self.failures.extend([(status, body or "error", retry_after)] * count)

    def received(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for path, body, _ in self.posts if f"/{channel}/" in path]

    def wait_for(self, channel: str, count: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(channel)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{channel}: {len(self.received(channel))} of {count} posts")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with standin._lock:
                    failure = standin.failures.popleft() if standin.failures else None
                if failure is not None:
                    status, text, retry_after = failure
                    self.send_response(status)
                    if retry_after is not None:
                        self.send_header("Retry-After", str(retry_after))
                    self.end_headers()
                    self.wfile.write(text.encode())
                    return
                try:
                    body = json.loads(raw)
                    if not isinstance(body, dict) or not (
                        body.get("text") or body.get("blocks") or body.get("attachments")
                    ):
                        raise ValueError
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    self.wfile.write(b"invalid_payload")
                    return
                with standin._lock:
                    standin.posts.append((self.path, body, time.monotonic()))
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"ok")

        return Handler
