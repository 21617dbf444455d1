"""Every kind of channel in one table: how it is built from the settings, and how a
notification and a digest look there.

A target (``receiver.model.TARGETS``) is served by the kind its name starts with:
``slack_critical`` and ``slack_alerts`` are two Slack channels. docs/ARCHITECTURE.md says how
to add a channel.

An alert's message is laid out by the templates in use (``receiver.templates``): one set per
process, built from the settings at start-up (``use_templates``) and replaced by a reload; the
package's defaults until then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from receiver import messages, model, templates
from receiver.channels.base import Channel, Outgoing
from receiver.channels.email import EmailChannel
from receiver.channels.slack import SlackChannel
from receiver.channels.slack_app import SlackAppChannel
from receiver.channels.telegram import TelegramChannel
from receiver.config import Settings
from receiver.graphs.caption import caption, slack_caption
from receiver.model import Claimed, Digest, Kind, Link


@dataclass(frozen=True, slots=True)
class ChannelKind:
    name: str
    build: Callable[[Settings, str], Channel]  # (settings, target name) -> the channel
    # One notification with its links (receiver.links.for_alert), as this channel shows it.
    message: Callable[[Claimed, Sequence[Link]], Outgoing]
    # The notifications folded during a storm, with the link to them (links.for_digest).
    digest: Callable[[Digest, Sequence[Link]], Outgoing]


_in_use: templates.Templates | None = None


def use_templates(chosen: templates.Templates) -> None:
    """Lay every message out with ``chosen`` from now on (start-up, and a reload)."""
    global _in_use
    _in_use = chosen


def templates_in_use() -> templates.Templates:
    return _in_use if _in_use is not None else templates.defaults()


def _telegram(item: Claimed, links: Sequence[Link]) -> Outgoing:
    if item.kind == Kind.GRAPH:  # the graph snapshot: a photo replying to the page
        return Outgoing(text=caption(item), reply_to=item.reply_to, photo=item.photo)
    # A page, its reminders and its escalation carry the buttons; a resolved does not.
    buttons = (
        messages.telegram_buttons(item.alert_id, acknowledged=item.acknowledged)
        if item.kind in (Kind.FIRING, Kind.REMINDER, Kind.ESCALATION)
        else ()
    )
    text = templates_in_use().telegram_text(item, links)
    return Outgoing(text=text, reply_to=item.reply_to, buttons=buttons)


def _slack(item: Claimed, links: Sequence[Link]) -> Outgoing:
    if item.kind == Kind.GRAPH:  # app mode: the picture uploaded into the page's thread
        return Outgoing(text=slack_caption(item), reply_to=item.reply_to, photo=item.photo)
    body = templates_in_use().slack_body(item, links)
    # Used in app mode only: buttons under a page, and the page's new text when it resolves.
    buttons = (
        messages.telegram_buttons(item.alert_id, acknowledged=item.acknowledged)
        if item.kind in (Kind.FIRING, Kind.REMINDER, Kind.ESCALATION)
        else ()
    )
    parent = messages.slack_resolved_parent(item) if item.kind == Kind.RESOLVED else None
    return Outgoing(
        text=str(body["text"]),
        body=body,
        reply_to=item.reply_to,
        buttons=buttons,
        parent_text=parent,
    )


def _slack_digest(digest: Digest, links: Sequence[Link]) -> Outgoing:
    body = messages.slack_digest_body(digest, links)
    return Outgoing(text=str(body["text"]), body=body)


def _email(item: Claimed, links: Sequence[Link]) -> Outgoing:
    layouts = templates_in_use()
    return Outgoing(
        text=layouts.email_text(item, links),
        subject=messages.email_subject(item),
        body={"html": layouts.email_html(item, links)},
    )


def _email_digest(digest: Digest, links: Sequence[Link]) -> Outgoing:
    return Outgoing(
        text=messages.digest_plain(digest, links),
        subject=f"[digest] {digest.folded} alerts folded",
    )


def _slack_channel(settings: Settings, target: str) -> Channel:
    slack = settings.slack
    if slack.app_mode:  # a bot token: the Web API, threads, updates, buttons
        return SlackAppChannel(target, slack)
    url = slack.webhook_url_critical if target == "slack_critical" else slack.webhook_url_alerts
    return SlackChannel(target, url.get_secret_value() if url else None, slack.timeout_seconds)


KINDS: dict[str, ChannelKind] = {
    kind.name: kind
    for kind in (
        ChannelKind(
            "telegram",
            build=lambda settings, target: TelegramChannel(settings.telegram, target),
            message=_telegram,
            digest=lambda digest, links: Outgoing(
                text=messages.telegram_digest_text(digest, links)
            ),
        ),
        ChannelKind("slack", build=_slack_channel, message=_slack, digest=_slack_digest),
        ChannelKind(
            "email",
            build=lambda settings, _target: EmailChannel(settings.email),
            message=_email,
            digest=_email_digest,
        ),
    )
}


def kind_of(target: str) -> ChannelKind:
    return KINDS[model.channel_kind(target)]


def build_channels(settings: Settings) -> dict[str, Channel]:
    """One channel per target; a channel without credentials answers NotConfigured."""
    return {target: kind_of(target).build(settings, target) for target in settings.targets()}
