"""Secrets stay inside the process: log redaction and private files, shared by every component.

``install_log_redaction()`` is called once at start-up by the receiver, the dispatcher, the
exporter/simulator and the stack supervisor. It

- adds a redacting filter to every handler there is (and to handlers added later through the
  root logger's ``addHandler``), which removes the configured secret values, anything shaped
  like a Telegram bot token, ``/bot<token>/`` URL paths and Slack webhook paths;
- wraps ``sys.stdout`` and ``sys.stderr`` with the same redaction, for what does not go through
  logging (tracebacks of dying threads, gunicorn's own log, ``print``);
- turns httpx/httpcore request logging down to WARNING: httpx logs every request URL at INFO,
  and a Bot API URL carries the token.

``write_private()`` creates a file that holds a secret with mode 0600 from the first byte (a
temporary file opened with that mode, then an atomic rename), and ``private_dir()`` makes a
directory only its owner may enter.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

# Environment variables that hold secrets (README's table). Their values never reach a log.
SECRET_ENV = (
    "TELEGRAM_BOT_TOKEN",
    "SLACK_WEBHOOK_URL_CRITICAL",
    "SLACK_WEBHOOK_URL_ALERTS",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SMTP_PASSWORD",
    "RECEIVER_WEBHOOK_TOKEN",
    "HISTORY_API_READ_TOKEN",
    "HISTORY_API_WRITE_TOKEN",
    "DATABASE_URL",  # only its password part is secret; the whole value is redacted too
    "DATABASE_READ_URL",  # the same, for the replica the history is read from
)
MASK = "<redacted>"
# Secrets we know the shape of, whether configured here or not.
_PATTERNS = (
    (re.compile(r"/bot[^/\s\"'<>]+/"), f"/bot{MASK}/"),  # Bot API URL paths
    (re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"), MASK),  # Telegram bot tokens
    (re.compile(r"hooks\.slack\.com/services/[^\s\"'<>]+"), f"hooks.slack.com/services/{MASK}"),
    (re.compile(r"\bxox[abpe]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}"), MASK),  # Slack tokens
    (re.compile(r"(://[^/\s:@]+:)[^/\s@]+@"), rf"\g<1>{MASK}@"),  # passwords in URLs
)
_MIN_SECRET = 4  # shorter values would redact ordinary words


def _url_password(value: str) -> str | None:
    match = re.match(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@", value, re.IGNORECASE)
    return match.group(1) if match else None


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The configured secret values, longest first (so that a value inside another goes too)."""
    env = os.environ if environ is None else environ
    values: set[str] = set()
    for name in SECRET_ENV:
        value = (env.get(name) or "").strip()
        if len(value) >= _MIN_SECRET:
            values.add(value)
        password = _url_password(value)
        if password and len(password) >= _MIN_SECRET:
            values.add(password)
    return sorted(values, key=len, reverse=True)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = [s for s in secrets if s]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and its traceback) with the secrets removed."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can, safely
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class RedactingStream(io.TextIOBase):
    """A text stream that redacts what is written to it, then passes it on."""

    def __init__(self, inner: TextIO, redact: Redactor) -> None:
        self._inner = inner
        self._redact = redact

    def write(self, text: str) -> int:
        self._inner.write(self._redact(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")


_installed: RedactingFilter | None = None
_original_add_handler = logging.Logger.addHandler


def _add_handler(self: logging.Logger, hdlr: logging.Handler) -> None:
    if _installed is not None and _installed not in hdlr.filters:
        hdlr.addFilter(_installed)
    _original_add_handler(self, hdlr)


def _all_handlers() -> list[logging.Handler]:
    handlers = list(logging.getLogger().handlers)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            handlers.extend(logger.handlers)
    return handlers


def install_log_redaction(environ: Mapping[str, str] | None = None) -> Redactor:
    """Redact secrets from every log handler and from stdout/stderr; quiet httpx. Idempotent:
    a second call refreshes the secret values and covers handlers added since."""
    global _installed
    redact = Redactor(secret_values(environ))
    if _installed is None:
        _installed = RedactingFilter(redact)
        logging.Logger.addHandler = _add_handler  # type: ignore[method-assign]
    else:
        _installed.redact = redact
    for handler in _all_handlers():
        if _installed not in handler.filters:
            handler.addFilter(_installed)
    for name in ("httpx", "httpcore", "hpack", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("stdout", "stderr"):
        stream: Any = getattr(sys, name)
        if isinstance(stream, RedactingStream):
            stream._redact = redact
        elif stream is not None:
            setattr(sys, name, RedactingStream(stream, redact))
    return redact


def uninstall_log_redaction() -> None:
    """Undo ``install_log_redaction`` (for tests that install it in a shared process)."""
    global _installed
    if _installed is None:
        return
    for handler in _all_handlers():
        handler.removeFilter(_installed)
    logging.Logger.addHandler = _original_add_handler  # type: ignore[method-assign]
    for name in ("stdout", "stderr"):
        stream: Any = getattr(sys, name)
        if isinstance(stream, RedactingStream):
            setattr(sys, name, stream._inner)
    _installed = None


# -- files and directories that hold secrets ---------------------------------------------------


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600 from the start: a temporary file created with
    that mode in the same directory, then renamed over ``path`` (atomic: a reader sees the old
    file or the new one, never a half-written or world-readable one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp: 0600
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def open_private_log(path: Path) -> io.BufferedWriter:
    """Open a log file for appending, created 0600 (and made 0600 if it existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def private_dir(path: Path, mode: int = 0o700) -> Path:
    """Create ``path`` (and parents) if missing; make ``path`` itself ``mode`` (default 0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    path.chmod(mode)
    return path
