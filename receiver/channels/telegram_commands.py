"""What each chat command does (``receiver.commands`` parses them), answered as Telegram HTML.

Read by the update poller from the same long poll as the buttons; only in a configured chat
and only from the users in ``telegram.allowed_user_ids`` (an empty list allows nobody: a
command can silence what a button press could not). Every answer is one message, escaped.
"""

from __future__ import annotations

import html
import logging
from datetime import timedelta

import httpx

from receiver import commands, store
from receiver.chat_silence import silence_alert
from receiver.commands import Command, CommandError
from receiver.config import Settings
from receiver.model import Claimed, severity
from receiver.silences import Alertmanager
from receiver.store import maintenance, operator

log = logging.getLogger("d76.telegram")
ALERTS_SHOWN = 30  # /alerts lists at most this many (and says how many more)


def _e(text: str) -> str:
    return html.escape(text, quote=False)


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    return f"{seconds / 60:.0f} min ago"


class CommandRunner:
    def __init__(self, settings: Settings, am: Alertmanager) -> None:
        self._settings = settings
        self._am = am
        self._http = httpx.Client(timeout=3)

    def close(self) -> None:
        self._http.close()

    def run(self, conn: store.Connection, command: Command, actor: str) -> str:
        """The answer to ``command`` given by ``actor``; CommandError for what cannot be."""
        handler = getattr(self, f"_{command.name}")
        answer: str = handler(conn, command, actor)
        log.info("/%s by %s: %s", command.name, actor, answer.split("\n", 1)[0][:200])
        return answer

    def _help(self, _conn: store.Connection, command: Command, _actor: str) -> str:
        return _e(commands.usage(command.topic) if command.topic else commands.help_text())

    def _alerts(self, conn: store.Connection, _command: Command, _actor: str) -> str:
        firing, total = operator.firing_now(conn, ALERTS_SHOWN)
        if not firing:
            return "✅ Nothing fires now."
        lines = [f"<b>{total} firing</b>"]
        for a in firing:
            marks = (f" · ack {a.acknowledged_by}" if a.acknowledged_by else "") + (
                " · silenced" if a.silenced else ""
            )
            lines.append(
                f"{severity(a.severity).emoji} [{_e(a.severity)}] #{a.id} {_e(a.title[:80])} "
                f"· since {a.starts_at:%H:%M} UTC{_e(marks)}"
            )
        if total > len(firing):
            lines.append(f"… and {total - len(firing)} more (the history page lists them)")
        return "\n".join(lines)

    def _view(self, conn: store.Connection, alert_id: int | None) -> Claimed:
        view = store.alert_view(conn, alert_id or 0)
        if view is None:
            raise CommandError(f"there is no alert #{alert_id} (see /alerts)")
        return view

    def _ack(self, conn: store.Connection, command: Command, actor: str) -> str:
        view = self._view(conn, command.alert_id)
        if view.acknowledged:
            return f"#{view.alert_id} was already acknowledged."
        store.acknowledge(conn, view.alert_id, actor)
        return f"✅ #{view.alert_id} {_e(view.title)}: acknowledged."

    def _silence(self, conn: store.Connection, command: Command, actor: str) -> str:
        assert command.duration is not None
        return self._silence_alert(conn, command, actor, command.duration, mute=False)

    def _mute(self, conn: store.Connection, command: Command, actor: str) -> str:
        days = timedelta(days=self._settings.mute.max_days)
        return self._silence_alert(conn, command, actor, days, mute=True)

    def _silence_alert(
        self, conn: store.Connection, command: Command, actor: str, duration: timedelta,
        *, mute: bool,
    ) -> str:  # fmt: skip
        view = self._view(conn, command.alert_id)
        if view.status != "firing":
            raise CommandError(f"#{view.alert_id} has resolved: nothing to silence")
        try:
            ends = silence_alert(self._am, conn, view, actor, duration, mute=mute, where="Telegram")
        except (httpx.HTTPError, ValueError) as exc:
            raise CommandError(f"Alertmanager refused the silence: {type(exc).__name__}") from None
        if mute:
            return f"🔇 #{view.alert_id} {_e(view.title)}: muted until it resolves."
        return f"🔕 #{view.alert_id} {_e(view.title)}: silenced until {ends:%Y-%m-%d %H:%M} UTC."

    def _unsilence(self, conn: store.Connection, command: Command, actor: str) -> str:
        view = self._view(conn, command.alert_id)
        try:
            ids = [
                s["id"]
                for s in self._am.silences()
                if s.get("status", {}).get("state") in ("active", "pending")
                and {m["name"]: m["value"] for m in s.get("matchers", []) if m.get("isEqual", True)
                     and not m.get("isRegex")} == view.labels
            ]  # fmt: skip
            for silence_id in ids:
                self._am.expire(silence_id)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise CommandError(f"Alertmanager: {type(exc).__name__}; nothing changed") from None
        if not ids:
            return f"#{view.alert_id} has no silence of its own."
        store.record_unsilence(conn, view.alert_id, actor, ids)
        return f"🔔 #{view.alert_id} {_e(view.title)}: {len(ids)} silence(s) lifted."

    def _maintenance(self, conn: store.Connection, command: Command, actor: str) -> str:
        assert command.exchange is not None and command.duration is not None
        reason = command.reason or "maintenance"
        comment = f"Maintenance of {command.exchange}: {reason} (from Telegram)"
        try:
            silence_id, ends = self._am.silence(
                {"exchange": command.exchange}, command.duration, actor, comment
            )
        except (httpx.HTTPError, ValueError) as exc:
            raise CommandError(f"Alertmanager refused the silence: {type(exc).__name__}") from None
        name = maintenance.record_window(
            conn, command.exchange, ends, reason, actor, silence_id
        )  # the history marks what starts inside it
        log.info("maintenance %s (silence %s) for exchange %s by %s", name, silence_id,
                 command.exchange, actor)  # fmt: skip
        return (
            f"🛠 Maintenance of {_e(command.exchange)} until {ends:%Y-%m-%d %H:%M} UTC: every "
            f"alert with exchange={_e(command.exchange)} is silenced ({_e(reason)}). "
            f"Silence {_e(silence_id)}."
        )

    def _up(self, url: str) -> str:
        try:
            ok = self._http.get(f"{url.rstrip('/')}/-/ready").status_code == 200
        except httpx.HTTPError as exc:
            return f"down ({type(exc).__name__})"
        return "up" if ok else "not ready"

    def _status(self, conn: store.Connection, _command: Command, _actor: str) -> str:
        s = operator.status(conn)
        oldest = s.oldest_undelivered_seconds
        watchdog = f"{_ago(s.watchdog_seconds)}" + (
            f" ({s.watchdog_status})" if s.watchdog_status else ""
        )
        return "\n".join(
            [
                "<b>d76-alerting status</b>",
                f"Prometheus: {self._up(self._settings.prometheus_url)}",
                f"Alertmanager: {self._up(self._settings.alertmanager_url)}",
                f"Dispatchers alive: {s.dispatchers_alive}",
                "Oldest undelivered notification: "
                + ("none" if oldest is None else f"{oldest:.0f}s old"),
                f"Last Watchdog: {_e(watchdog)}",
            ]
        )
