"""Email delivery over SMTP (optionally STARTTLS and login), for P3 alerts and the daily summary.

An SMTP reply of 4xx is temporary and retried; 5xx (unknown recipient, refused sender,
message rejected) is final.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from receiver.channels.base import NotConfigured, Outgoing, PermanentError, TransientError
from receiver.config import Email as EmailSettings


def _smtp_error(exc: smtplib.SMTPException) -> Exception:
    code = getattr(exc, "smtp_code", None)
    if code is None and isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        code = max(codes) if codes else None
    text = f"email: {type(exc).__name__} {code or ''}".strip()
    if isinstance(code, int) and 400 <= code < 500:
        return TransientError(text)
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return TransientError(text)
    return PermanentError(text)


class EmailChannel:
    name = "email"

    def __init__(self, settings: EmailSettings) -> None:
        self._settings = settings

    def build(self, message: Outgoing) -> EmailMessage:
        settings = self._settings
        mail = EmailMessage()
        mail["Subject"] = message.subject or message.text.splitlines()[0][:150]
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

    def send(self, message: Outgoing) -> str | None:
        settings = self._settings
        if not settings.configured:
            raise NotConfigured("email: SMTP_HOST or ALERT_EMAIL_TO is not set")
        mail = self.build(message)
        assert settings.smtp_host is not None
        try:
            with smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds
            ) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username and settings.password:
                    smtp.login(settings.username, settings.password.get_secret_value())
                smtp.send_message(mail)
        except smtplib.SMTPException as exc:
            raise _smtp_error(exc) from None
        except OSError as exc:
            raise TransientError(f"email: cannot reach {settings.smtp_host}: {exc}") from None
        return str(mail["Message-ID"])

    def close(self) -> None:
        pass
