"""The graph snapshot's picture: a PNG of the size a phone shows well, its unit read from
the metric's name, drawn whatever the series look like."""

from __future__ import annotations

import io
import re
import struct
import time
from datetime import UTC, datetime, timedelta

import pytest

from receiver.graphs.prometheus import Series, matching
from receiver.graphs.render import HEIGHT_PX, WIDTH_PX, render, unit_of

END = datetime(2026, 11, 24, 3, 10, tzinfo=UTC)
START = END - timedelta(minutes=40)


def size_of(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def series(values: list[float], **labels: str) -> Series:
    times = [START.timestamp() + 10 * i for i in range(len(values))]
    return Series(labels, times, values)


def test_a_loss_over_its_limit_draws_a_phone_sized_png_in_a_fraction_of_a_second() -> None:
    loss = series([40_000 + 60 * i for i in range(240)], __name__="d75_riskguard_daily_loss_usd")
    started = time.perf_counter()
    png = render(
        title="[P0] GlobalGuard BLOCK",
        subtitle="d75_riskguard_daily_loss_usd > 50000",
        series=[loss],
        threshold=50_000.0,
        fired_at=END - timedelta(minutes=10),
        unit=unit_of("d75_riskguard_daily_loss_usd"),
        start=START,
        end=END,
    )
    elapsed = time.perf_counter() - started
    assert size_of(png) == (WIDTH_PX, HEIGHT_PX)
    assert 10_000 < len(png) < 300_000
    assert elapsed < 5, elapsed


@pytest.mark.parametrize(
    ("expression", "axis", "suffix"),
    [
        ("d75_riskguard_daily_loss_usd", "USD", ""),
        ("d75_crosssync_imbalance_ratio", "percent", "%"),
        ("time() - d75_exchange_orderbook_last_update_timestamp_seconds", "seconds", " s"),
        ("rate(d75_exchange_rest_request_errors_total[20s])", "per second", "/s"),
        ("d75_exchange_health_status", "value", ""),
    ],
)
def test_the_axis_names_the_unit(expression: str, axis: str, suffix: str) -> None:
    unit = unit_of(expression)
    assert (unit.axis, unit.suffix) == (axis, suffix)


def test_many_series_a_threshold_series_and_gaps_still_draw() -> None:
    lines = [series([float(i % 7) for i in range(100)], exchange=f"ex{n}") for n in range(9)]
    limit = series([3.0] * 100, threshold="x")
    png = render(
        title="[P1] many", subtitle="x > t", series=lines, threshold=[limit],
        fired_at=END, unit=unit_of("x"), start=START, end=END,
    )  # fmt: skip
    assert size_of(png) == (WIDTH_PX, HEIGHT_PX)
    from matplotlib.image import imread

    assert imread(io.BytesIO(png)).shape[:2] == (HEIGHT_PX, WIDTH_PX)


def test_the_alerts_own_series_is_picked_among_the_rules() -> None:
    upbit = series([1.0], exchange="Upbit", job="d75")
    binance = series([2.0], exchange="Binance", job="d75")
    alert = {"alertname": "X", "exchange": "Upbit", "job": "d75", "severity": "P1"}
    assert matching([upbit, binance], alert) == [upbit]
    renamed = series([3.0], venue="Upbit")  # the expression dropped the alert's labels
    assert matching([renamed], alert) == [renamed]
    threshold = series([5.0], threshold="limit", job="d75")  # its own label is not the alert's
    assert matching([threshold], alert) == [threshold]


def test_a_series_of_one_sample_seconds_old_still_draws_a_minute_wide() -> None:
    """A fresh exporter's first sample: the picture spans a minute with the firing in it
    (a one-second axis had pushed the firing mark out and the layout with it)."""
    one = Series({"__name__": "x"}, [END.timestamp() - 0.5], [300.0])
    png = render(
        title="[P0] new", subtitle="x > 1", series=[one], threshold=1.0,
        fired_at=END - timedelta(seconds=4), unit=unit_of("x"), start=START, end=END,
    )  # fmt: skip
    assert size_of(png) == (WIDTH_PX, HEIGHT_PX)


def test_the_caption_stays_within_telegrams_limit_and_never_cuts_an_entity() -> None:
    from receiver.graphs.caption import CAPTION_LIMIT, caption, slack_caption
    from tests.unit.test_render import claimed

    item = claimed(title="<&>" * 400, alertname="A&B" * 300)
    text = caption(item)
    assert len(text) <= CAPTION_LIMIT
    assert "&amp;lt" not in text and not re.search(r"&[a-z]*…", text), text[-60:]
    assert text.startswith("📈 <b>[P1] &lt;&amp;&gt;") and text.endswith("fired</i>")
    slack = slack_caption(item)
    assert len(slack) <= CAPTION_LIMIT and "<" not in slack
