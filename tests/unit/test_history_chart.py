"""The history page's chart without a database: round count ticks, time labels that suit the
range, and an SVG that is well-formed XML whatever the counts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from receiver.web.history_chart import chart, slots_for, x_labels, y_ticks

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (5, [0, 1, 2, 3, 4, 5]),
        (7, [0, 2, 4, 6, 8]),
        (23, [0, 5, 10, 15, 20, 25]),
        (120, [0, 50, 100, 150]),
        (55_000, [0, 20_000, 40_000, 60_000]),
    ],
)
def test_y_ticks_are_round_whole_counts_from_zero_to_the_peak_or_just_above(
    peak: int, ticks: list[int]
) -> None:
    assert y_ticks(peak) == ticks


def test_a_day_is_labelled_by_hours_with_the_date_at_midnight() -> None:
    start = datetime(2026, 11, 20, 13, 40, tzinfo=UTC)
    slots = slots_for(start, start + DAY, HOUR)
    assert slots[0] == datetime(2026, 11, 20, 13, tzinfo=UTC) and len(slots) == 25
    labels = [text for _, text in x_labels(slots, HOUR)]
    assert labels == [
        "14:00", "16:00", "18:00", "20:00", "22:00", "Nov 21", "02:00", "04:00", "06:00",
        "08:00", "10:00", "12:00",
    ]  # fmt: skip
    three_days = slots_for(start, start + 3 * DAY, HOUR)
    assert [t for _, t in x_labels(three_days, HOUR)][:4] == ["18:00", "Nov 21", "06:00", "12:00"]


def test_weeks_are_labelled_by_dates() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    week = x_labels(slots_for(start, start + 7 * DAY, DAY), DAY)
    assert [t for _, t in week] == [f"Nov {d}" for d in range(1, 8)]
    quarter = x_labels(slots_for(start, start + 92 * DAY, DAY), DAY)
    assert len(quarter) <= 13
    assert all(text.split()[0] in ("Nov", "Dec", "Jan") for _, text in quarter)
    mondays = x_labels(slots_for(start, start + 40 * DAY, DAY), DAY)
    assert [t for _, t in mondays] == ["Nov 2", "Nov 9", "Nov 16", "Nov 23", "Nov 30", "Dec 7"]


def test_the_svg_is_well_formed_with_or_without_alerts() -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    busy = [{"bucket": "2026-11-20T05:00:00+00:00", "severity": "P0", "count": 9}]
    for buckets in ([], busy):
        svg = ET.fromstring(chart(buckets, start, start + DAY, HOUR))
        assert svg.get("aria-label") == "alerts per hour by severity"
        titles = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "axis-title"]
        assert titles == ["alerts per hour", "time (UTC)"]
    empty = chart([], start, start + DAY, HOUR)
    assert "no alerts in this range" in empty and 'class="bar"' not in empty
