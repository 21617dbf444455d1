"""The dispatcher against real PostgreSQL and the Telegram stand-in."""

from __future__ import annotations

import time

from receiver import config, store
from tests.support.database import query
from tests.support.delivery import fast_settings, queue_alerts, running, wait_state
from tests.support.payloads import alert
from tests.support.standins.telegram import CHAT, TOKEN, TelegramStandin


def test_firing_then_resolved_arrive_as_a_thread(
    database_url: str, telegram: TelegramStandin
) -> None:
    queue_alerts(database_url, alert(labels={"tier": "GlobalGuard"}))
    with running(database_url, fast_settings(telegram)):
        firing = telegram.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 10)
        queue_alerts(database_url, alert(status="resolved"))
        resolved = telegram.wait_for(lambda m: "RESOLVED" in m.text, 10)
        wait_state(database_url, "sent")
    assert firing.parse_mode == "HTML"
    assert firing.chat_id == CHAT
    assert firing.text.startswith("🔴 <b>[P0] GlobalGuard BLOCK</b>")
    assert "Daily Loss: $55000 / $50000 (limit)" in firing.text
    assert "Action: Trading HALTED until next day" in firing.text
    assert resolved.reply_to == firing.message_id
    assert resolved.text.startswith("✅ <b>[P0] RESOLVED: GlobalGuard BLOCK</b>")
    ids = query(database_url, "SELECT message_id FROM notification ORDER BY id")
    assert ids == [(str(firing.message_id),), (str(resolved.message_id),)]


def test_p0_goes_out_before_queued_lesser_alerts(
    database_url: str, telegram: TelegramStandin
) -> None:
    lesser = [alert(f"Warn{i}", severity="P2", fingerprint=f"f{i:015d}") for i in range(5)]
    queue_alerts(database_url, *lesser, receiver="d76-p2")
    queue_alerts(database_url, alert(fingerprint="ffffffffffffffff"))  # queued last
    with running(database_url, fast_settings(telegram)):
        wait_state(database_url, "sent")
    first = telegram.sent()[0]
    assert "[P0]" in first.text
    assert len(telegram.sent()) == 6


def test_server_errors_are_retried_until_delivered(
    database_url: str, telegram: TelegramStandin
) -> None:
    telegram.fail_next(1, 502)  # getMe fails once
    telegram.fail_next(2, 500)  # then two sendMessage attempts
    queue_alerts(database_url, alert())
    with running(database_url, fast_settings(telegram)):
        wait_state(database_url, "sent")
    assert len(telegram.sent()) == 1
    outcomes = query(database_url, "SELECT outcome FROM notification_attempt ORDER BY id")
    assert outcomes == [("retry",), ("retry",), ("retry",), ("sent",)]


def test_a_429_waits_its_retry_after(database_url: str, telegram: TelegramStandin) -> None:
    queue_alerts(database_url, alert())
    with running(database_url, fast_settings(telegram)):
        telegram.wait_for(lambda m: True, 10)  # the bot is initialised and has sent once
        telegram.fail_next(1, 429, "Too Many Requests: retry after 2", retry_after=2)
        started = time.monotonic()
        queue_alerts(database_url, alert("SecondAlert", fingerprint="0000000000000002"))
        telegram.wait_for(lambda m: "SecondAlert" in m.text, 10)
        waited = time.monotonic() - started
    assert waited >= 1.9, f"retried after {waited:.2f}s, before Telegram's retry_after"
    outcomes = query(database_url, "SELECT outcome, error FROM notification_attempt ORDER BY id")
    assert [o for o, _ in outcomes] == ["sent", "throttled", "sent"]
    assert "retry after 2s" in str(outcomes[1][1])


def test_a_transient_failure_is_retried_while_worth_sending_then_given_up_visibly(
    database_url: str, telegram: TelegramStandin
) -> None:
    queue_alerts(database_url, alert(), policy=store.IngestPolicy(retry_for_seconds=3))
    telegram.down_status = 503  # down for longer than the message is worth sending (3 s)
    with running(database_url, fast_settings(telegram)):
        wait_state(database_url, "failed")
    attempts, error = query(database_url, "SELECT attempts, last_error FROM notification")[0]
    assert int(str(attempts)) > 4  # the seed's 3 retries were the first, not the last
    assert "gave up" in str(error)
    assert telegram.sent() == []
    (paused,) = query(database_url, "SELECT failures FROM destination WHERE target = 'telegram'")
    assert int(str(paused[0])) >= 4


def test_without_a_token_messages_are_recorded_unsent_with_the_reason(database_url: str) -> None:
    queue_alerts(database_url, alert())
    with running(database_url, fast_settings(None)):
        wait_state(database_url, "unsent")
    (error,) = query(database_url, "SELECT last_error FROM notification")[0]
    assert "TELEGRAM_BOT_TOKEN" in str(error)


def test_a_markup_rejection_falls_back_to_plain_text(
    database_url: str, telegram: TelegramStandin
) -> None:
    queue_alerts(database_url, alert())
    with running(database_url, fast_settings(telegram)):
        telegram.wait_for(lambda m: True, 10)  # the bot is up; now break the next message
        telegram.fail_next(1, 400, "Bad Request: can't parse entities: unsupported start tag")
        queue_alerts(database_url, alert("Broken", fingerprint="0000000000000009"))
        plain = telegram.wait_for(lambda m: "Broken" in m.text, 10)
        wait_state(database_url, "sent")
    assert plain.parse_mode is None
    assert plain.text.startswith("🔴 [P0] GlobalGuard BLOCK\n")  # no <b>, still the message
    assert "<i>" not in plain.text


def test_a_group_upgraded_to_a_supergroup_is_followed(
    database_url: str, telegram: TelegramStandin
) -> None:
    queue_alerts(database_url, alert())
    with running(database_url, fast_settings(telegram)):
        telegram.wait_for(lambda m: True, 10)
        telegram.fail_next(
            1,
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=-1009999,
        )
        queue_alerts(database_url, alert("Moved", fingerprint="0000000000000008"))
        queue_alerts(database_url, alert("MovedToo", fingerprint="0000000000000007"))
        moved = telegram.wait_for(lambda m: "Moved" in m.text and "MovedToo" not in m.text, 10)
        later = telegram.wait_for(lambda m: "MovedToo" in m.text, 10)
        wait_state(database_url, "sent")
    assert moved.chat_id == later.chat_id == "-1009999"
    assert query(
        database_url, "SELECT count(*) FROM notification_attempt WHERE outcome <> 'sent'"
    ) == [(0,)]


def test_hostile_labels_and_huge_annotations_are_delivered_escaped_under_the_limit(
    database_url: str, telegram: TelegramStandin
) -> None:
    hostile = alert(
        "Hostile",
        fingerprint="00000000000000aa",
        labels={"exchange": "<b>Up&bit</b>", "route": "</code>🚀"},
        annotations={
            "summary": "x < y & z",
            "description": "<script>" + "&" * 10_000,
            "action": "a</i>b",
        },
    )
    queue_alerts(database_url, hostile)
    with running(database_url, fast_settings(telegram)):
        wait_state(database_url, "sent")
    (message,) = telegram.sent()
    assert message.parse_mode == "HTML"
    assert len(message.text) <= 4096
    assert "Exchange: &lt;b&gt;Up&amp;bit&lt;/b&gt;" in message.text
    assert "Route: &lt;/code&gt;🚀" in message.text
    assert "<script>" not in message.text
    assert "Action: a&lt;/i&gt;b" in message.text


def test_a_45_second_outage_delivers_p0_within_15s_and_everything_within_60s_of_recovery(
    database_url: str, telegram: TelegramStandin
) -> None:
    """The production timers (backoff 2 s doubling to a 10 s cap): a Telegram answering 502 to
    every call for 45 s, with alerts posted during it, drains in priority order right after."""
    settings = config.Settings.model_validate(
        {"telegram": {"api_url": telegram.api_url, "bot_token": TOKEN, "chat_id": CHAT}}
    )
    telegram.fail_next(1, 429, "Too Many Requests: retry after 1", retry_after=1)
    with running(database_url, settings):
        telegram.down_status = 502
        severities = ["P2", "P1", "P0", "P2", "P1", "P0"]
        for i, severity in enumerate(severities):
            queue_alerts(
                database_url, alert(f"Outage{i}", severity=severity, fingerprint=f"{i:016d}")
            )
            time.sleep(45 / len(severities))
        telegram.down_status = None
        recovered = time.monotonic()
        first_p0 = telegram.wait_for(lambda m: "[P0]" in m.text, 20)
        wait_state(database_url, "sent", timeout=60)
    p0_after = first_p0.received_at - recovered
    all_after = max(m.received_at for m in telegram.sent()) - recovered
    print(f"\n45 s Telegram outage: P0 delivered {p0_after:.1f} s after recovery, "
          f"all 6 within {all_after:.1f} s")  # fmt: skip
    assert p0_after <= 15
    assert all_after <= 60
    delivered = [m.text.split("]")[0].split("[")[1] for m in telegram.sent()]
    assert delivered == ["P0", "P0", "P1", "P1", "P2", "P2"]
    names = [m.text.split("<i>")[1].split(" ")[0] for m in telegram.sent()]
    assert sorted(names) == sorted(f"Outage{i}" for i in range(6))  # none lost, none twice
    throttled = query(
        database_url, "SELECT count(*) FROM notification_attempt WHERE outcome = 'throttled'"
    )
    assert throttled == [(0,)] or throttled == [(1,)]  # the 429 paused once, not per message
