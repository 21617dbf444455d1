"""d76secrets: what the redaction removes, that it covers handlers added later and plain
stderr, and that private files are 0600 from the first byte."""

from __future__ import annotations

import io
import logging
import os
import stat
import sys
from pathlib import Path

import pytest

import d76secrets
from d76secrets import MASK, Redactor, write_private

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-xyz"


def _redaction_installed() -> bool:
    """Whether redaction is on in this process: a handler added now gets its filter."""
    probe, logger = logging.Handler(), logging.getLogger("d76.test.redaction.probe")
    logger.addHandler(probe)
    try:
        return any(isinstance(f, d76secrets.RedactingFilter) for f in probe.filters)
    finally:
        logger.removeHandler(probe)


def test_the_redactor_removes_values_and_known_shapes() -> None:
    redact = Redactor(["hunter2-secret"])
    line = (
        f"POST http://127.0.0.1:1/bot{TOKEN}/sendMessage token {TOKEN} pw hunter2-secret "
        "https://hooks.slack.com/services/T0/B0/abcdef postgresql://d76:pw@db/d76"
    )
    cleaned = redact(line)
    for secret in (TOKEN, "hunter2-secret", "T0/B0/abcdef", ":pw@"):
        assert secret not in cleaned
    assert f"/bot{MASK}/sendMessage" in cleaned
    assert "postgresql://d76:" + MASK + "@db/d76" in cleaned


def test_secret_values_come_from_the_secret_variables_only() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DATABASE_URL": "postgresql://d76:dbpass99@h/d",
        "SMTP_PASSWORD": "smtp-pw",
        "TELEGRAM_CHAT_ID": "-100777",  # not a secret
        "HISTORY_API_READ_TOKEN": "abc",  # too short to redact safely
    }
    values = d76secrets.secret_values(env)
    assert TOKEN in values and "dbpass99" in values and "smtp-pw" in values
    assert "-100777" not in values and "abc" not in values


def test_installed_redaction_covers_later_handlers_and_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-canary-pw")
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    logger = logging.getLogger("d76.test.redaction")
    before = _redaction_installed()
    try:
        d76secrets.install_log_redaction()
        assert isinstance(sys.stderr, d76secrets.RedactingStream)
        handler = logging.StreamHandler(io.StringIO())
        logger.addHandler(handler)  # added after install: covered all the same
        logger.propagate = False
        logger.warning("login with %s failed", "smtp-canary-pw")
        try:
            raise RuntimeError(f"token {TOKEN}")
        except RuntimeError:
            logger.exception("boom")
        text = handler.stream.getvalue()
        assert "smtp-canary-pw" not in text and TOKEN not in text
        assert "login with <redacted> failed" in text
        print(f"direct {TOKEN}", file=sys.stderr)
        assert TOKEN not in stream.getvalue()
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        logger.handlers.clear()
        monkeypatch.delenv("SMTP_PASSWORD")
        if before:
            d76secrets.install_log_redaction()
        else:  # leave the rest of the session's logging as it found it
            d76secrets.uninstall_log_redaction()


def test_private_files_are_0600_from_the_start(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # what a default umask would make of an ordinary write
    try:
        path = write_private(tmp_path / "sub" / "alertmanager.yml", "bot_token: x\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_private(path, "bot_token: y\n")  # replaced atomically, still 0600
    assert path.read_text() == "bot_token: y\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["alertmanager.yml"]  # no temp left
