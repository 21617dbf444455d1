"""Ack, Silence and Mute pressed under a Slack message (app mode), read over Socket Mode.

No public endpoint: each dispatcher opens a Socket Mode connection with the app token
(Slack hands every interaction to one connection). A press counts only if its user is in
``slack.allowed_user_ids`` (when set) and the pressed message is the one sent for that alert
to that channel; anything else gets an ephemeral "Not allowed". The message is then updated
to say what was done (and loses the buttons that no longer apply).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from receiver import messages, store
from receiver.channels import telegram_buttons
from receiver.channels.slack_app import ACTION_IDS, action_blocks, make_client
from receiver.chat_silence import AlreadyResolved, silence_alert
from receiver.config import Settings
from receiver.model import Claimed
from receiver.silences import Alertmanager

log = logging.getLogger("d76.slack")
ACTIONS = {action_id: name for name, action_id in ACTION_IDS.items()}
LINK_ACTION_PREFIX = "d76_link_"  # messages.slack_link_blocks


class SlackActions:
    def __init__(self, settings: Settings) -> None:
        slack = settings.slack
        assert slack.app_token is not None
        self._settings = settings
        self._am = Alertmanager(settings.alertmanager_url)
        self._web = make_client(slack)
        self._client = SocketModeClient(
            app_token=slack.app_token.get_secret_value(),
            web_client=self._web,
            auto_reconnect_enabled=True,
            logger=logging.getLogger("d76.slack.socket"),
        )
        self._client.socket_mode_request_listeners.append(self._on_request)

    def start(self) -> None:
        self._client.connect()
        log.info("reading Slack button presses (Socket Mode)")

    def stop(self) -> None:
        self._client.close()
        self._am.close()

    def _on_request(self, client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        payload = request.payload or {}
        if request.type != "interactive" or payload.get("type") != "block_actions":
            return
        for action in list(payload.get("actions") or [])[:5]:
            if str(action.get("action_id", "")).startswith(LINK_ACTION_PREFIX):
                continue  # a link button: Slack opened its page, nothing to do here
            try:
                self._press(payload, action)
            except Exception:  # a press never stops the listener
                log.exception("slack press %r failed", str(action.get("action_id"))[:40])

    def _target_of(self, channel: str) -> str | None:
        slack = self._settings.slack
        for target in ("slack_critical", "slack_alerts"):
            if slack.channel_for(target) == channel:
                return target
        return None

    def _press(self, payload: dict[str, Any], action: dict[str, Any]) -> None:
        user = str((payload.get("user") or {}).get("id", ""))
        channel = str((payload.get("channel") or {}).get("id", ""))
        ts = str((payload.get("message") or {}).get("ts", ""))
        name, value = ACTIONS.get(str(action.get("action_id"))), str(action.get("value", ""))
        actor = f"slack:{user}"
        allowed = self._settings.slack.allowed_user_ids
        target = self._target_of(channel)
        if name is None or not value.isdigit() or len(value) > 18 or target is None:
            log.warning("refused a Slack press by %s: not one of our buttons", actor)
            return
        conn = store.connect(self._settings.dsn)
        try:
            ours = telegram_buttons.is_alert_message(conn, int(value), ts, target)
            view = store.alert_view(conn, int(value)) if ours else None
            if (allowed and user not in allowed) or view is None:
                log.warning("refused a Slack press by %s on alert %s", actor, value)
                self._tell(channel, user, "Not allowed here.")
                return
            if store.fired_again(conn, view.alert_id):
                self._tell(channel, user, "It fired again: use the newest message.")
                return
            try:
                note = self._act(conn, name, view, actor)
            except AlreadyResolved:  # a mute would outlive the resolve that ends it
                self._tell(channel, user, "It has resolved already.")
                return
            if note is None:
                self._tell(channel, user, "Silence failed: see the dispatcher log.")
                return
            self._update(conn, view.alert_id, channel, ts)
            log.info("%s by %s on alert %s (Slack)", note, actor, view.alert_id)
        finally:
            conn.close()

    def _act(self, conn: Any, name: str, view: Claimed, actor: str) -> str | None:
        """Ack or silence; the note to show, None when Alertmanager refused the silence
        (AlreadyResolved for a mute of a resolved alert)."""
        if name == "ack":
            store.acknowledge(conn, view.alert_id, actor)
            return "Acknowledged"
        mute = name == "mute"
        hours = self._settings.mute.max_days * 24 if mute else self._settings.telegram.silence_hours
        try:
            silence_alert(
                self._am, conn, view, actor, timedelta(hours=hours), mute=mute, where="Slack"
            )
        except (httpx.HTTPError, ValueError) as exc:
            log.error("silence for alert %s failed: %s", view.alert_id, exc)
            return None
        return "Muted until resolved" if mute else "Silenced"

    def _update(self, conn: Any, alert_id: int, channel: str, ts: str) -> None:
        view = store.alert_view(conn, alert_id)
        assert view is not None
        text = messages.slack_action_text(view, store.actions_for(conn, alert_id))
        buttons = messages.telegram_buttons(
            alert_id, acknowledged=view.acknowledged, muted=store.is_muted(conn, alert_id)
        )
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        try:
            self._web.chat_update(
                channel=channel, ts=ts, text=text, blocks=blocks + action_blocks(buttons)
            )
        except SlackApiError as exc:
            log.warning("chat.update failed: %s", exc.response.get("error"))

    def _tell(self, channel: str, user: str, text: str) -> None:
        try:
            self._web.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as exc:
            log.warning("chat.postEphemeral failed: %s", exc.response.get("error"))
