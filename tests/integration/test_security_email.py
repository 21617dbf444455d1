"""Email: header-safe subjects, STARTTLS whenever a password is set, refused recipients
recorded as failures (and not sent twice to the others)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from receiver.channels.base import Outgoing, PermanentError, TransientError
from receiver.channels.email import EmailChannel, header_safe
from receiver.config import Email
from tests.support.standins.smtp import SmtpStandin


@pytest.fixture
def smtp() -> Iterator[SmtpStandin]:
    standin = SmtpStandin(auth=True).start()
    yield standin
    standin.stop()


def _channel(smtp: SmtpStandin, **settings: object) -> EmailChannel:
    base: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "to": ["ops@example.test", "cto@example.test"],
    }
    return EmailChannel(Email.model_validate({**base, **settings}))


def test_a_newline_in_a_title_is_folded_into_a_one_line_subject(smtp: SmtpStandin) -> None:
    channel = _channel(smtp)
    hostile = "Loss\r\nBcc: attacker@evil.test\nX-Injected: 1"
    channel.send(Outgoing(text="body", subject=hostile))
    (mail,) = smtp.wait_for(1, 5)
    assert mail["Subject"] == "Loss Bcc: attacker@evil.test X-Injected: 1"
    assert mail["Bcc"] is None and mail["X-Injected"] is None
    assert smtp.handler.envelopes == [["ops@example.test", "cto@example.test"]]
    assert header_safe("\n\n") == "(no subject)"


def test_a_password_requires_starttls_and_is_never_sent_in_clear(smtp: SmtpStandin) -> None:
    channel = _channel(smtp, username="d76", password=SecretStr("pw-canary"))
    with pytest.raises(PermanentError, match="does not offer STARTTLS"):
        channel.send(Outgoing(text="body", subject="s"))
    assert smtp.handler.logins == []
    assert smtp.messages == []
    # Explicitly turned off (a relay on loopback): login in clear is allowed.
    clear = _channel(smtp, username="d76", password=SecretStr("pw-canary"), starttls=False)
    clear.send(Outgoing(text="body", subject="s"))
    assert smtp.handler.logins == [("d76", "pw-canary")]


def test_a_refused_recipient_is_a_recorded_failure_and_a_retry_skips_the_others(
    smtp: SmtpStandin,
) -> None:
    channel = _channel(smtp)
    smtp.handler.refuse["cto@example.test"] = "450 Mailbox busy"
    message = Outgoing(text="body", subject="P3 thing")
    with pytest.raises(TransientError, match=r"refused cto@example.test \(450\)"):
        channel.send(message)
    assert smtp.handler.envelopes == [["ops@example.test"]]
    del smtp.handler.refuse["cto@example.test"]
    channel.send(message)  # the retry goes only to the one that did not get it
    assert smtp.handler.envelopes == [["ops@example.test"], ["cto@example.test"]]
    smtp.handler.refuse["ops@example.test"] = "550 No such user"
    with pytest.raises(PermanentError, match=r"refused ops@example.test \(550\)"):
        channel.send(Outgoing(text="other", subject="P3 other"))


def test_a_password_smtp_cannot_send_fails_without_quoting_it(smtp: SmtpStandin) -> None:
    channel = _channel(smtp, username="d76", password=SecretStr("pässwörd-canary"), starttls=False)
    with pytest.raises(PermanentError) as failure:
        channel.send(Outgoing(text="body", subject="s"))
    assert "canary" not in str(failure.value) and "only ASCII" in str(failure.value)
    assert smtp.messages == []
