"""Email delivery over SMTP (STARTTLS and login), for P3 alerts and the daily summary.

An SMTP reply of 4xx is temporary and retried; 5xx (unknown recipient, refused sender,
message rejected) is final. STARTTLS is used whenever a password is set (unless SMTP_STARTTLS
is explicitly false): a relay that does not offer it gets no password, and the failure says
so. Recipients the relay refuses make the delivery a recorded failure naming them; a retry of
the same message then goes only to the recipients that have not received it yet.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from collections import OrderedDict
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from receiver.channels.base import NotConfigured, Outgoing, PermanentError, TransientError
from receiver.config import Email as EmailSettings

log = logging.getLogger("d76.dispatcher")
_MEMORY = 1000  # messages whose delivered recipients are remembered for retries


def header_safe(text: str, limit: int = 150) -> str:
    """One line: newlines and other control characters folded into spaces (no header
    injection, no exception from the email package), at most ``limit`` characters."""
    folded = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)
    return " ".join(folded.split())[:limit] or "(no subject)"


def _smtp_error(exc: smtplib.SMTPException) -> Exception:
    code = getattr(exc, "smtp_code", None)
    if code is None and isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        code = max(codes) if codes else None
    text = f"email: {type(exc).__name__} {code or ''}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        text += ": refused " + ", ".join(sorted(exc.recipients))
    if isinstance(code, int) and 400 <= code < 500:
        return TransientError(text)
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return TransientError(text)
    return PermanentError(text)


class EmailChannel:
    name = "email"

    def __init__(self, settings: EmailSettings) -> None:
        self._settings = settings
        # message digest -> recipients that already have it (retries skip them)
        self._delivered: OrderedDict[str, set[str]] = OrderedDict()
        if settings.password and settings.starttls is False:
            log.warning(
                "SMTP_STARTTLS=false with SMTP_PASSWORD set: the password crosses the network "
                "in clear; only do this for a relay on loopback"
            )

    def build(self, message: Outgoing) -> EmailMessage:
        settings = self._settings
        mail = EmailMessage()
        mail["Subject"] = header_safe(message.subject or message.text.strip() or "")
        mail["From"] = settings.sender
        mail["To"] = ", ".join(settings.to)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain="d76-alerting")
        mail.set_content(message.text)
        body = message.body or {}
        if body.get("html"):
            mail.add_alternative(str(body["html"]), subtype="html")
        for name, (content, mime) in dict(body.get("attachments", {})).items():
            maintype, subtype = str(mime).split("/", 1)
            data = content.encode() if isinstance(content, str) else content
            mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        return mail

    @staticmethod
    def _digest(message: Outgoing) -> str:
        return hashlib.sha256(f"{message.subject}\0{message.text}".encode()).hexdigest()

    def send(self, message: Outgoing) -> str | None:
        settings = self._settings
        if not settings.configured:
            raise NotConfigured("email: SMTP_HOST or ALERT_EMAIL_TO is not set")
        try:
            mail = self.build(message)
        except (ValueError, TypeError) as exc:  # a message the email package cannot build
            raise PermanentError(f"email: cannot build the message: {exc}") from None
        digest = self._digest(message)
        already = self._delivered.get(digest, set())
        recipients = [r for r in settings.to if r not in already]
        assert settings.smtp_host is not None
        try:
            with smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds
            ) as smtp:
                if settings.use_starttls:
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        raise PermanentError(
                            f"email: {settings.smtp_host} does not offer STARTTLS, which is "
                            "required when SMTP_PASSWORD is set (the password is never sent in "
                            "clear); set SMTP_STARTTLS=false only for a relay on loopback"
                        )
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username and settings.password:
                    smtp.login(settings.username, settings.password.get_secret_value())
                refused = smtp.send_message(mail, to_addrs=recipients)
        except smtplib.SMTPException as exc:
            raise _smtp_error(exc) from None
        except UnicodeError:  # smtplib's login is ASCII only; the error would quote the password
            raise PermanentError(
                "email: SMTP_USERNAME or SMTP_PASSWORD has characters SMTP login cannot send "
                "(only ASCII)"
            ) from None
        except ssl.SSLError as exc:
            raise PermanentError(
                f"email: STARTTLS with {settings.smtp_host} failed: {exc}"
            ) from None
        except OSError as exc:
            raise TransientError(f"email: cannot reach {settings.smtp_host}: {exc}") from None
        delivered = already | {r for r in recipients if r not in refused}
        if refused:
            self._remember(digest, delivered)
            codes = [code for code, _ in refused.values()]
            detail = ", ".join(f"{r} ({code})" for r, (code, _) in sorted(refused.items()))
            text = f"email: refused {detail}; delivered to {len(delivered)} other(s)"
            if all(400 <= code < 500 for code in codes):
                raise TransientError(text)
            raise PermanentError(text)
        self._delivered.pop(digest, None)
        return str(mail["Message-ID"])

    def _remember(self, digest: str, delivered: set[str]) -> None:
        self._delivered[digest] = delivered
        self._delivered.move_to_end(digest)
        while len(self._delivered) > _MEMORY:
            self._delivered.popitem(last=False)

    def close(self) -> None:
        pass
