"""The one interface every delivery channel implements.

A channel turns an ``Outgoing`` message into a delivered message and returns its id, or
raises one of the errors below so the dispatcher knows whether to retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    text: str  # already rendered and escaped for the channel
    reply_to: str | None = None  # channel message id this one answers (resolved -> firing)
    body: Mapping[str, Any] | None = None  # a structured form, for channels that take one
    subject: str | None = None  # for channels with a subject line (email)
    buttons: tuple[tuple[str, str], ...] = ()  # (label, callback data) for channels with buttons
    # What the message replied to should now say (Slack app mode updates the alert's message
    # when it resolves); None: leave it.
    parent_text: str | None = None
    # A picture (PNG) sent with ``text`` as its caption: the graph snapshot, on Telegram.
    photo: bytes | None = None


class DeliveryError(Exception):
    """Base of channel failures; ``str()`` is safe to store and show (no secrets)."""


class TransientError(DeliveryError):
    """Worth retrying: network trouble, 5xx, rate limits.

    ``outcome_unknown``: the request may have been delivered (it timed out after it was
    sent), so a retry may duplicate it; such an attempt is recorded as ``unknown``.
    """

    def __init__(
        self, message: str, retry_after: float | None = None, *, outcome_unknown: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


class PermanentError(DeliveryError):
    """Retrying will not help: bad token, unknown chat, rejected message."""


class NotConfigured(DeliveryError):
    """The channel has no credentials: the message is logged and recorded as unsent."""


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> str | None:
        """Deliver the message; return the channel's message id (None if it has none)."""
        ...

    def close(self) -> None: ...
