"""The routing table (routing.table) and named chats (telegram.chats), validated at start-up."""

from __future__ import annotations

from typing import Any

import pytest

from d76config import ConfigError, validate_section
from receiver import config
from receiver.config_loop import RouteRule, route

TABLE = [
    RouteRule(match={"severity": "P0"}, telegram="risk", slack="slack_critical"),
    RouteRule(match={"source": "HealthMonitor", "exchange": "Upbit"}, telegram="upbit"),
]


def test_the_first_matching_rule_picks_the_chat_and_the_slack_channel() -> None:
    p1 = ["telegram", "slack_alerts"]
    assert route(p1, {"severity": "P0"}, TABLE) == ["telegram_risk", "slack_critical"]
    upbit = {"severity": "P1", "source": "HealthMonitor", "exchange": "Upbit"}
    assert route(p1, upbit, TABLE) == ["telegram_upbit", "slack_alerts"]
    assert route(p1, {"severity": "P1", "exchange": "Upbit"}, TABLE) == p1  # source differs
    assert route(["email"], {"severity": "P0"}, TABLE) == ["email"]


def _settings(data: dict[str, Any]) -> config.Settings:
    return validate_section("receiver", config.Settings, data)


CHATS = {"risk": {"chat_id": "-1002222", "topic": 12, "allowed_user_ids": [777]}}


def test_named_chats_are_targets_with_their_topic_and_allowlist() -> None:
    settings = _settings(
        {
            "telegram": {"chat_id": "-100777", "allowed_user_ids": [4242], "chats": CHATS},
            "routing": {"table": [{"match": {"severity": "P0"}, "telegram": "risk"}]},
        }
    )
    tg = settings.telegram
    assert "telegram_risk" in settings.targets()
    assert (tg.chat_for("telegram_risk"), tg.topic_for("telegram_risk")) == ("-1002222", 12)
    assert (tg.chat_for("telegram"), tg.topic_for("telegram")) == ("-100777", None)
    assert tg.chat_targets() == {"-1002222": "telegram_risk", "-100777": "telegram"}
    assert tg.allowed_in("telegram_risk", 777) is True
    assert tg.allowed_in("telegram_risk", 4242) is False  # its own list, not the global one
    assert tg.allowed_in("telegram", 4242) is True


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"routing": {"table": [{"match": {"severity": "P0"}, "telegram": "nope"}]}},
         "telegram 'nope' is not a chat of telegram.chats"),
        ({"routing": {"table": [{"match": {"alertname": "X"}, "telegram": "risk"}]}},
         "match: one or more of the labels severity, source, exchange"),
        ({"routing": {"table": [{"match": {"severity": "P0"}, "slack": "email"}]}},
         "is not a Slack target"),
        ({"routing": {"table": [{"match": {"severity": "P0"}}]}}, "a rule says where"),
        ({"routing": {"receivers": {"d76-p0": ["telegram_ghost"]}}},
         "unknown target 'telegram_ghost'"),
        ({"telegram": {"chats": {"Risk Desk": {"chat_id": "-1"}}}}, "telegram.chats"),
        ({"telegram": {"chats": {"risk": {"chat_id": "@risk"}}}}, "chat_id"),
    ],
)  # fmt: skip
def test_a_bad_table_or_chat_stops_the_start_naming_it(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _settings({**data, "telegram": {**data.get("telegram", {}), "chats": {
            **CHATS, **data.get("telegram", {}).get("chats", {})}}})  # fmt: skip
