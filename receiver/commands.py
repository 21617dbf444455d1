"""Chat commands: parsing and help, as pure functions (what each command does is
``receiver.channels.telegram_commands``'s).

    /alerts                          what fires now, by severity
    /ack <id>                        acknowledge an alert
    /silence <id> <duration>         an Alertmanager silence on the alert's labels
    /unsilence <id>                  lift the alert's silences (and its mute)
    /mute <id> until-resolved        silence it until it resolves
    /maintenance <exchange> <duration> [reason]   silence everything of one exchange
    /status                          is the pipeline well
    /help [command]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

MAX_TEXT = 1000  # longer messages are not commands we read
MIN_DURATION, MAX_DURATION = timedelta(minutes=1), timedelta(days=30)
_DURATION = re.compile(r"^(\d{1,5})(m|h|d)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_EXCHANGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_COMMAND = re.compile(r"^/([a-z_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?$")

HELP: dict[str, tuple[str, str]] = {  # name -> (usage, what it does)
    "alerts": ("/alerts", "what fires now, by severity"),
    "ack": ("/ack <id>", "acknowledge alert <id> (reminders stop)"),
    "silence": (
        "/silence <id> <duration>",
        "silence alert <id> in Alertmanager for a duration: 30m, 2h, 1d (1m to 30d)",
    ),
    "unsilence": ("/unsilence <id>", "lift alert <id>'s silences and its mute"),
    "mute": ("/mute <id> until-resolved", "silence alert <id> until it resolves"),
    "maintenance": (
        "/maintenance <exchange> <duration> [reason]",
        "silence every alert of one exchange (label exchange=<name>) for a duration",
    ),
    "status": ("/status", "Prometheus, Alertmanager, dispatchers, the outbox, the Watchdog"),
    "help": ("/help [command]", "this list, or one command's help"),
}


class CommandError(ValueError):
    """A command that cannot be run as given; its text says why and how (for the chat)."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    alert_id: int | None = None
    duration: timedelta | None = None
    exchange: str | None = None
    reason: str = ""
    topic: str | None = None  # /help <topic>


def usage(name: str) -> str:
    text, what = HELP[name]
    return f"{text}: {what}"


def help_text() -> str:
    return "\n".join(["Commands:", *(usage(name) for name in HELP)])


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise CommandError(f"{text!r} is not a duration: say 30m, 2h or 1d")
    duration = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise CommandError(f"{text!r}: a duration is 1m to 30d")
    return duration


def _alert_id(name: str, text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) == 0:
        raise CommandError(f"{text!r} is not an alert id (the number in /alerts)\n{usage(name)}")
    return int(text)


def parse(text: str, bot_username: str | None = None) -> Command | None:
    """The command in a chat message; None when it is no command (or one for another bot).
    Raises CommandError, with the usage, for a known command given wrong arguments or an
    unknown one."""
    if not text.startswith("/") or len(text) > MAX_TEXT:
        return None
    head, *args = text.split()
    match = _COMMAND.match(head)
    if match is None:
        return None
    name, addressed = match.group(1), match.group(2)
    if addressed and bot_username and addressed.lower() != bot_username.lower():
        return None  # "/alerts@other_bot"
    if name not in HELP:
        raise CommandError(f"unknown command /{name}\n{help_text()}")
    return _arguments(name, args)


def _arguments(name: str, args: list[str]) -> Command:
    def exactly(count: int) -> None:
        if len(args) != count:
            raise CommandError(f"/{name} takes {count} argument(s)\n{usage(name)}")

    if name in ("alerts", "status"):
        exactly(0)
        return Command(name)
    if name == "help":
        if len(args) > 1 or (args and args[0].lstrip("/") not in HELP):
            raise CommandError(help_text())
        return Command(name, topic=args[0].lstrip("/") if args else None)
    if name in ("ack", "unsilence"):
        exactly(1)
        return Command(name, alert_id=_alert_id(name, args[0]))
    if name == "silence":
        exactly(2)
        return Command(name, alert_id=_alert_id(name, args[0]), duration=parse_duration(args[1]))
    if name == "mute":
        exactly(2)
        if args[1].lower() != "until-resolved":
            raise CommandError(f"/mute mutes until the alert resolves\n{usage(name)}")
        return Command(name, alert_id=_alert_id(name, args[0]))
    # maintenance
    if len(args) < 2:
        raise CommandError(f"/maintenance needs an exchange and a duration\n{usage(name)}")
    if not _EXCHANGE.match(args[0]):
        raise CommandError(f"{args[0]!r} is not an exchange name\n{usage(name)}")
    reason = " ".join(args[2:])[:200]
    return Command(name, exchange=args[0], duration=parse_duration(args[1]), reason=reason)
