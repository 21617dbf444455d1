"""Chat commands as parsed: each command's arguments, and a clear answer to bad ones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from receiver.commands import Command, CommandError, help_text, parse, parse_duration


def test_each_command_and_its_arguments() -> None:
    assert parse("/alerts") == Command("alerts")
    assert parse("/status@d76_bot", "D76_bot") == Command("status")
    assert parse("/ack 42") == Command("ack", alert_id=42)
    assert parse("/silence 42 2h") == Command("silence", alert_id=42, duration=timedelta(hours=2))
    assert parse("/unsilence 42") == Command("unsilence", alert_id=42)
    assert parse("/mute 42 until-resolved") == Command("mute", alert_id=42)
    assert parse("/maintenance Upbit 90m wallet upgrade") == Command(
        "maintenance", exchange="Upbit", duration=timedelta(minutes=90), reason="wallet upgrade"
    )
    assert parse("/help") == Command("help") and parse("/help ack") == Command("help", topic="ack")


def test_what_is_not_a_command_for_this_bot_is_ignored() -> None:
    assert parse("hello") is None
    assert parse("/alerts@other_bot", "d76_bot") is None
    assert parse("/" + "x" * 2000) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/ack", "/ack takes 1 argument(s)\n/ack <id>: acknowledge"),
        ("/ack abc", "'abc' is not an alert id"),
        ("/ack 0", "is not an alert id"),
        ("/ack ４２", "is not an alert id"),  # full-width digits are not ASCII digits
        ("/silence 42", "/silence takes 2 argument(s)"),
        ("/silence 42 forever", "'forever' is not a duration: say 30m, 2h or 1d"),
        ("/silence 42 31d", "a duration is 1m to 30d"),
        ("/silence 42 0m", "a duration is 1m to 30d"),
        ("/mute 42", "/mute takes 2 argument(s)"),
        ("/mute 42 2h", "/mute mutes until the alert resolves"),
        ("/maintenance Upbit", "needs an exchange and a duration"),
        ("/maintenance Up;bit 2h", "is not an exchange name"),
        ("/alerts now", "/alerts takes 0 argument(s)"),
        ("/frobnicate", "unknown command /frobnicate\nCommands:"),
        ("/help frobnicate", "Commands:"),
    ],
)
def test_bad_arguments_get_a_clear_answer_with_the_usage(text: str, says: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse(text)
    assert says in str(caught.value)


def test_help_lists_every_command() -> None:
    text = help_text()
    for name in ("alerts", "ack", "silence", "unsilence", "mute", "maintenance", "status"):
        assert f"/{name}" in text
    assert parse_duration("1d") == timedelta(days=1)
