"""Who may read and who may write the history, for the API and the page. Fails closed.

- No token configured (a laptop): reads and writes are open, as before.
- Any token configured: a read needs the read or the write token; a write (acknowledge) needs
  the write token. With only ``HISTORY_API_READ_TOKEN`` set, writes are refused: a read token
  never grants a write, and the absence of a write token never opens writes.

The page takes its token once (``/history?token=...``): it answers with a signed, HttpOnly,
SameSite=Strict session cookie that holds the *scope* the token grants (never the token) and
redirects to the same URL without it, so the token never stays in browser history, a link or
a redirect (the first request's URL carries it once: see docs/SECURITY.md on proxy logs).
Its forms carry a CSRF token bound to that session.

Signing uses itsdangerous (it ships with Flask and is what Flask's own session cookie uses):
timestamped, salted, constant-time verification, rather than hand-written HMAC code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from receiver.config import Settings

COOKIE = "d76_session"
SESSION_MAX_AGE = 12 * 3600  # a page session lasts a working shift; then the token again
SCOPES = ("none", "read", "write")


@dataclass(frozen=True)
class Tokens:
    read: str
    write: str

    @classmethod
    def of(cls, settings: Settings) -> Tokens:
        api = settings.api
        return cls(
            read=api.read_token.get_secret_value() if api.read_token else "",
            write=api.write_token.get_secret_value() if api.write_token else "",
        )

    @property
    def any(self) -> bool:
        return bool(self.read or self.write)

    def scope_of(self, presented: str) -> str:
        """What a presented token grants: write, read or none."""
        if same_secret(presented, self.write):
            return "write"
        if same_secret(presented, self.read):
            return "read"
        return "none"

    def allows(self, scope: str, needed: str) -> bool:
        if not self.any:
            return True
        return SCOPES.index(scope) >= SCOPES.index(needed)


def same_secret(presented: str, expected: str) -> bool:
    """The one comparison of a presented token with a configured one: constant-time, and an
    unset (empty) secret matches nothing."""
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


def bearer(request: Request) -> str:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return presented.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class Session:
    scope: str
    nonce: str  # binds the CSRF token to this browser's session


class PageSessions:
    """The page's signed session cookie and CSRF tokens."""

    def __init__(self, settings: Settings) -> None:
        self.tokens = Tokens.of(settings)
        # The key is derived from secrets every receiver process shares (tokens, database URL):
        # all workers and both receivers of a pair accept each other's cookies, and rotating
        # a token ends every session.
        material = "\0".join(
            [
                "d76-page-session",
                self.tokens.read,
                self.tokens.write,
                settings.database_url.get_secret_value() if settings.database_url else "",
            ]
        )
        key = hashlib.sha256(material.encode()).hexdigest()
        self._session = URLSafeTimedSerializer(key, salt="d76-page-session")
        self._csrf = URLSafeTimedSerializer(key, salt="d76-page-csrf")

    def new(self, scope: str) -> tuple[Session, str]:
        session = Session(scope, secrets.token_urlsafe(16))
        return session, self._session.dumps([session.scope, session.nonce])

    def load(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            scope, nonce = self._session.loads(cookie, max_age=SESSION_MAX_AGE)
        except (BadSignature, ValueError, TypeError):
            return None
        if scope not in SCOPES or not isinstance(nonce, str):
            return None
        return Session(scope, nonce)

    def csrf_token(self, session: Session) -> str:
        return self._csrf.dumps(session.nonce)

    def csrf_ok(self, session: Session | None, token: str | None) -> bool:
        if session is None or not token:
            return False
        try:
            nonce = self._csrf.loads(token, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, session.nonce)
