"""The channels by target name, and how each kind of channel shows a notification."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from receiver import messages
from receiver.channels.base import Channel, Outgoing
from receiver.channels.email import EmailChannel
from receiver.channels.slack import SlackChannel
from receiver.channels.telegram import TelegramChannel
from receiver.config import Settings
from receiver.model import Claimed, Digest, Kind


def _telegram(item: Claimed) -> Outgoing:
    # A page and its reminders carry the buttons; a resolved (or fired-and-resolved) does not.
    buttons = (
        messages.telegram_buttons(item.alert_id, acknowledged=item.acknowledged)
        if item.kind in (Kind.FIRING, Kind.REMINDER)
        else ()
    )
    return Outgoing(text=messages.telegram_text(item), reply_to=item.reply_to, buttons=buttons)


def _slack(item: Claimed) -> Outgoing:
    body = messages.slack_body(item)
    return Outgoing(text=str(body["text"]), body=body)


def _email(item: Claimed) -> Outgoing:
    return Outgoing(
        text=messages.plain_text(item),
        subject=messages.email_subject(item),
        body={"html": messages.email_html(item)},
    )


def _telegram_digest(digest: Digest) -> Outgoing:
    return Outgoing(text=messages.telegram_digest_text(digest))


def _slack_digest(digest: Digest) -> Outgoing:
    body = messages.slack_digest_body(digest)
    return Outgoing(text=str(body["text"]), body=body)


def _email_digest(digest: Digest) -> Outgoing:
    return Outgoing(
        text=messages.strip_markup(messages.telegram_digest_text(digest)),
        subject=f"[digest] {digest.folded} alerts folded",
    )


# Channel kind (the target's name up to its first "_") -> how a message looks there.
RENDERERS: dict[str, Callable[[Claimed], Outgoing]] = {
    "telegram": _telegram,
    "slack": _slack,
    "email": _email,
}
DIGEST_RENDERERS: dict[str, Callable[[Digest], Outgoing]] = {
    "telegram": _telegram_digest,
    "slack": _slack_digest,
    "email": _email_digest,
}


def kind_of(target: str) -> str:
    return target.split("_", 1)[0]


def build_channels(settings: Settings) -> dict[str, Channel]:
    slack = settings.slack

    def secret(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value else None

    return {
        "telegram": TelegramChannel(settings.telegram),
        "slack_critical": SlackChannel(
            "slack_critical", secret(slack.webhook_url_critical), slack.timeout_seconds
        ),
        "slack_alerts": SlackChannel(
            "slack_alerts", secret(slack.webhook_url_alerts), slack.timeout_seconds
        ),
        "email": EmailChannel(settings.email),
    }
