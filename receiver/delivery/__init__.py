"""Delivery: the dispatcher that takes notifications from the outbox to the channels.

- ``worker``: the loop (claim, decide, send, record) and the lease keeper
- ``chores``: timed chores (heartbeat, dead man's switch, sweep, daily summary)
- ``deadman``: the dead man's switch; ``daily_summary``: the daily report's content

The channels by target, and how each shows a notification: ``receiver.channels.registry``,
with the message templates read at start-up; SIGHUP reads the templates again (``make
reload``), and a set that fails the check leaves the one in use.

The decisions themselves are ``receiver.lifecycle``'s pure functions.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from receiver import links, templates
from receiver.channels.registry import build_channels, use_templates
from receiver.config import ConfigError, Settings
from receiver.delivery.chores import Chores
from receiver.delivery.deadman import DeadMansSwitch
from receiver.delivery.mutes import MuteWatch
from receiver.delivery.worker import Dispatcher

log = logging.getLogger("d76.dispatcher")


def build(settings: Settings, *, deadman: bool = True) -> Dispatcher:
    """A dispatcher with every channel and chore the settings call for, laying messages out
    with the settings' templates (raises TemplateError, a ConfigError, for a broken one)."""
    layouts = templates.load(settings.templates.directory)
    use_templates(layouts)
    if layouts.overrides:
        log.info("operator templates in %s: %s", layouts.directory, ", ".join(layouts.overrides))
    channels = build_channels(settings)
    dispatcher = Dispatcher(
        settings.dsn, settings.dispatcher, channels, link_base=links.base_for(settings)
    )
    switch = DeadMansSwitch(settings) if deadman else None
    dispatcher.chores = Chores(dispatcher.name, settings, channels, switch, MuteWatch(settings))
    return dispatcher


def reload_templates(settings: Settings) -> bool:
    """Read the settings' template directory again and use it if it passes the check; else
    keep the templates in use. True if the new ones are in use."""
    try:
        fresh = templates.load(settings.templates.directory)
    except ConfigError as exc:
        log.error("%s; the templates in use stay", exc)
        return False
    except Exception as exc:  # an unreadable directory, say: never the dispatcher's end
        log.error("templates not reloaded (%s); the templates in use stay", type(exc).__name__)
        return False
    use_templates(fresh)
    log.info("templates reloaded: %d operator template(s)", len(fresh.overrides))
    return True


def main(settings: Settings) -> int:
    dispatcher = build(settings)

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        dispatcher.stop()

    def _on_hangup(signum: int, frame: FrameType | None) -> None:
        # Read and checked in a thread of its own: a handler runs between any two steps of
        # the loop (between a send and its record, say), so it only starts the work.
        threading.Thread(target=reload_templates, args=(settings,), daemon=True).start()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_hangup)
    poller = None
    if settings.telegram.configured and settings.telegram.buttons:
        from receiver.channels.telegram_updates import UpdatePoller

        poller = UpdatePoller(settings)
        poller.start()
    slack_actions = None
    if settings.slack.app_mode and settings.slack.app_token is not None:
        from receiver.channels.slack_socket import SlackActions

        slack_actions = SlackActions(settings)
        slack_actions.start()
    graph_worker = None
    if settings.graphs.enabled:
        from receiver.graphs.worker import GraphWorker

        graph_worker = GraphWorker(settings.dsn, settings).start()
    dispatcher.run()
    if graph_worker is not None:
        graph_worker.stop(timeout=settings.graphs.timeout_seconds * 2 + 5)
    if poller is not None:
        poller.stop(timeout=1)
    if slack_actions is not None:
        slack_actions.stop()
    return 0


__all__ = [
    "Chores",
    "Dispatcher",
    "MuteWatch",
    "build",
    "build_channels",
    "main",
    "reload_templates",
]
