"""The graph snapshot on the running stack: the simulator's day loss crosses its limit, the
P0 page reaches Telegram at once and the graph of its rule (the loss and the limit, from the
real Prometheus) follows as a photo replying to it, within seconds.

``D76_SAVE_GRAPH=<file.png>`` keeps the photo, and ``D76_GRAPH_WARMUP=<seconds>`` lets the
calm engine run that long first, so the picture shows the minutes before (the README's
picture is one, with 150 s)."""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import pytest

from stack.stack import Stack
from tests.support.database import query
from tests.support.pipeline import play
from tests.support.standins.telegram import TelegramStandin, png_size

pytestmark = pytest.mark.e2e


def test_a_p0_text_arrives_first_and_its_graph_follows_as_a_reply_photo(
    pipeline: Stack, telegram: TelegramStandin, database_url: str
) -> None:
    time.sleep(float(os.environ.get("D76_GRAPH_WARMUP", "0")))
    play(pipeline, "global_daily_loss")
    page = telegram.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text and m.photo is None, 30)
    photo = telegram.wait_for(lambda m: m.photo is not None, 30)
    assert photo.reply_to == page.message_id, "the photo replies to the page"
    assert page.received_at < photo.received_at, "the text is never delayed by the graph"
    assert photo.received_at - page.received_at < 15, "the graph follows within seconds"
    assert photo.photo is not None and png_size(photo.photo) == (1000, 560)
    assert photo.chat_id == page.chat_id and "[P0] GlobalGuard BLOCK" in photo.text
    rows = query(
        database_url,
        """SELECT g.state, g.expression, g.threshold, length(g.png), g.alert_id FROM alert_graph g
             JOIN alert_history a ON a.id = g.alert_id
            WHERE a.alertname = 'GlobalGuardDailyLossLimit'""",
    )
    ((state, expression, threshold, size, alert_id),) = rows
    assert (state, expression) == ("done", "d75_riskguard_global_daily_loss_usd")
    assert threshold == 'd75_alert_threshold{threshold="global_daily_loss_usd"}'
    assert size == len(photo.photo)
    # The same picture on the alert's history page.
    page_url = f"{pipeline.url('receiver')}/history/{alert_id}"
    with urllib.request.urlopen(f"{page_url}/graph.png", timeout=10) as answer:
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.read() == photo.photo
    with urllib.request.urlopen(page_url, timeout=10) as answer:
        assert f'src="/history/{alert_id}/graph.png"' in answer.read().decode()
    if os.environ.get("D76_SAVE_GRAPH"):
        Path(os.environ["D76_SAVE_GRAPH"]).write_bytes(photo.photo)
