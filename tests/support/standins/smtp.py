"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and can answer
with a temporary (4xx) or permanent (5xx) failure."""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.support.ports import free_port


class _Handler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []  # the recipients of each message received
        self.reply_next: list[str] = []
        self.refuse: dict[str, str] = {}  # recipient -> the reply refusing it (e.g. "550 ...")
        self.logins: list[tuple[str, str]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply_next:
            return self.reply_next.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpStandin:
    def __init__(self, *, auth: bool = False) -> None:
        """``auth``: offer AUTH (without TLS, as a loopback relay may) and record logins."""
        self.handler = _Handler()
        self.port = free_port()
        options: dict[str, Any] = {}
        if auth:
            options = {"authenticator": self._login, "auth_require_tls": False}
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    def _login(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.handler.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)

    def start(self) -> SmtpStandin:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self.handler.messages)

    def wait_for(self, count: int, timeout: float) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.handler.messages) >= count:
                return self.messages
            time.sleep(0.05)
        raise AssertionError(f"{len(self.handler.messages)} of {count} emails arrived")
