"""Silencing one alert from a chat (a button in Telegram or Slack, or ``/silence`` and
``/mute``): the Alertmanager silence on its exact labels, then its record in the history.

One function for every channel, so each refuses the same things: a mute of an alert that has
resolved already would outlive the resolve that ends a mute and keep its labels quiet for days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from receiver import store
from receiver.model import Claimed
from receiver.silences import Alertmanager


class AlreadyResolved(Exception):
    """The alert resolved before the mute was asked for."""


def silence_alert(
    am: Alertmanager,
    conn: store.Connection,
    view: Claimed,
    actor: str,
    duration: timedelta,
    *,
    mute: bool,
    where: str,
) -> datetime:
    """Silence ``view``'s labels for ``duration`` (``mute``: until it resolves, ``duration``
    at most) and record it; return when the silence ends. Raises :class:`AlreadyResolved`
    for a mute of a resolved alert, and Alertmanager's errors (``httpx.HTTPError``,
    ``ValueError``) for the caller to answer."""
    if mute and view.status != "firing":
        raise AlreadyResolved(view.alert_id)
    how = "Muted until resolved" if mute else "Silenced"
    comment = f"{how} from {where}: {view.title} (d76 alert {view.alert_id})"
    silence_id, ends = am.silence(view.labels, duration, actor, comment)
    store.record_silence(conn, view.alert_id, actor, silence_id, ends, mute=mute)
    return ends
