"""Slack in app mode: a bot token, ``chat.postMessage`` to a channel id, through slack_sdk.

A graph snapshot is uploaded into the alert's thread (``files_upload_v2``: an upload URL,
the bytes, then ``files.completeUploadExternal``). Unlike an incoming webhook, the Web API
returns the message's ``ts``: a resolved message is
posted in the thread of its alert's message and that message is updated to say it resolved.
Firing messages carry Ack / Silence 1h / Mute until resolved buttons (Block Kit actions, read
over Socket Mode by ``slack_socket``). The token travels in a header, never in a URL, and no
error text carries it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from receiver.channels.base import NotConfigured, Outgoing, PermanentError, TransientError
from receiver.config import Slack as SlackSettings

ACTION_IDS = {"ack": "d76_ack", "silence": "d76_silence", "mute": "d76_mute"}


def make_client(settings: SlackSettings) -> WebClient:
    assert settings.bot_token is not None
    base = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
    return WebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=base,
        timeout=int(max(1, settings.timeout_seconds)),
    )


def action_blocks(buttons: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Block Kit buttons for (label, "action:alert id") pairs."""
    if not buttons:
        return []
    elements = []
    for label, data in buttons:
        action, _, alert_id = data.partition(":")
        elements.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": label[:75], "emoji": True},
                "action_id": ACTION_IDS[action],
                "value": alert_id,
            }
        )
    return [{"type": "actions", "block_id": "d76_actions", "elements": elements}]


def message_args(message: Outgoing, *, buttons: bool = True) -> dict[str, Any]:
    """The text, the attachment coloured by severity and (``buttons``) its buttons."""
    body = dict(message.body or {})
    args: dict[str, Any] = {"text": message.text[:3000]}
    if body.get("attachments"):
        args["attachments"] = body["attachments"]
    blocks = action_blocks(message.buttons) if buttons else []
    if blocks:
        args["blocks"] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:3000]}},
            *blocks,
        ]
    return args


class SlackAppChannel:
    def __init__(self, name: str, settings: SlackSettings) -> None:
        self.name = name
        self._settings = settings
        self._channel = settings.channel_for(name)
        self._client: WebClient | None = None

    def _web(self) -> WebClient:
        if not self._channel:
            raise NotConfigured(f"{self.name}: its channel id is not set (SLACK_CHANNEL_…)")
        if self._client is None:
            self._client = make_client(self._settings)
        return self._client

    def _call(self, method: str, **args: Any) -> dict[str, Any]:
        try:
            response = getattr(self._web(), method)(**args)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) or f"HTTP {status}"
            detail = f"{self.name}: {method} {error}"
            if status == 429:
                retry = exc.response.headers.get("Retry-After", "")
                wait = float(retry) if str(retry).isdigit() else None
                raise TransientError(detail, wait) from None
            if status >= 500 or error in ("ratelimited", "service_unavailable", "fatal_error"):
                raise TransientError(detail) from None
            raise PermanentError(detail) from None
        except (SlackRequestError, OSError) as exc:  # network: it may have been posted
            raise TransientError(
                f"{self.name}: {method} {type(exc).__name__}", outcome_unknown=True
            ) from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    def send(self, message: Outgoing) -> str | None:
        if message.photo is not None:  # a graph snapshot: a file in the page's thread
            uploaded = self._call(
                "files_upload_v2", channel=self._channel, file=message.photo,
                filename="graph.png", title="graph", initial_comment=message.text[:3000],
                thread_ts=message.reply_to,
            )  # fmt: skip
            found = uploaded.get("files") or [uploaded.get("file") or {}]
            return str(found[0].get("id") or "") or None
        # Buttons only where Socket Mode reads them (an app token).
        args = message_args(message, buttons=bool(self._settings.app_token))
        if message.reply_to:
            args["thread_ts"] = message.reply_to
        posted = self._call("chat_postMessage", channel=self._channel, **args)
        if message.reply_to and message.parent_text:
            # The alert's own message says it resolved (a failure here costs nothing more).
            with contextlib.suppress(TransientError, PermanentError):
                self._call(
                    "chat_update", channel=self._channel, ts=message.reply_to,
                    text=message.parent_text[:3000], blocks=[], attachments=[],
                )  # fmt: skip
        return str(posted.get("ts")) if posted.get("ts") else None

    def close(self) -> None:
        self._client = None
