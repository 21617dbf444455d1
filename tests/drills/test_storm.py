"""An alert storm through the real webhook, PostgreSQL and dispatcher: the chat gets at most
its budget per window, P0s first, and a digest whose counts add up to what was folded."""

from __future__ import annotations

import json
import re
import time

import pytest
from flask.testing import FlaskClient

from tests.support.database import query
from tests.support.delivery import fast_settings, running
from tests.support.payloads import alert, payload
from tests.support.standins.telegram import TelegramStandin

WINDOW = 6.0  # seconds; the production window is 60 s, the same mechanism at a tenth the time
BUDGET = 10


def test_500_alerts_fold_into_digests_under_budget_with_p0_first(
    client: FlaskClient,
    database_url: str,
    telegram: TelegramStandin,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = fast_settings(
        telegram, rate_window_seconds=WINDOW, rate_limit_per_window=BUDGET, idle_wake_seconds=0.2
    )
    names = [f"RouteScoreLow{i}" for i in range(12)]
    with running(database_url, settings):
        # 498 lesser alerts in 10 webhook calls, then 2 P0s in the middle of the storm.
        for batch in range(10):
            alerts = [
                alert(
                    names[(batch * 50 + i) % 12],
                    severity="P2" if i % 10 else "P1",
                    fingerprint=f"{batch:04d}{i:012d}",
                )
                for i in range(50 if batch < 9 else 48)
            ]
            response = client.post(
                "/webhook",
                data=json.dumps(payload(*alerts, receiver="d76-p2")),
                content_type="application/json",
            )
            assert response.status_code == 200
            if batch == 4:
                p0_sent_at = time.monotonic()
                p0 = [
                    alert("GlobalGuardDailyLossLimit", fingerprint=f"ff{i:014d}") for i in range(2)
                ]
                client.post(
                    "/webhook", data=json.dumps(payload(*p0)), content_type="application/json"
                )
        assert query(database_url, "SELECT count(*) FROM alert_history") == [(500,)]

        # Everything is told, one way or the other, within three windows.
        deadline = time.monotonic() + 4 * WINDOW
        while time.monotonic() < deadline:
            pending = query(
                database_url,
                """SELECT count(*) FROM notification
                WHERE state IN ('queued', 'sending', 'folded')""",
            )
            if pending == [(0,)]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(
                f"still pending: {pending}",
                query(database_url, "SELECT state, count(*) FROM notification GROUP BY 1"),
                query(database_url, "SELECT id, state, folded, next_attempt_at FROM digest"),
            )

    messages = telegram.sent()
    # At most BUDGET messages in any window (checked on the stand-in's own clock).
    times = sorted(m.received_at for m in messages)
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t < start + WINDOW - 0.3)
        assert in_window <= BUDGET, f"{in_window} messages within one {WINDOW}s window"
    # The two P0s went out at once, in the middle of the storm.
    p0_messages = [m for m in messages if "[P0]" in m.text]
    assert len(p0_messages) == 2
    assert all(m.received_at - p0_sent_at < 2.0 for m in p0_messages), "a P0 waited"
    # Individual messages plus everything the digests say they folded: all 500, no more.
    digests = [m for m in messages if m.text.startswith("📦")]
    assert digests, "no digest was sent"
    folded = 0
    for digest in digests:
        announced = int(re.search(r"\+(\d+) more", digest.text).group(1))  # type: ignore[union-attr]
        listed = sum(int(n) for n in re.findall(r"^(\d+)× ", digest.text, re.MULTILINE))
        assert listed == announced, digest.text
        folded += announced
    individual = len(messages) - len(digests)
    with capsys.disabled():
        print(
            f"\n[storm] {len(messages)} messages: {individual} individual, "
            f"{len(digests)} digest(s) folding {folded}"
        )
    assert individual + folded == 500
    assert query(database_url, "SELECT count(*) FROM notification WHERE state = 'digested'") == [
        (folded,)
    ]
