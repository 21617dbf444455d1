"""Maintenance windows (config/maintenance.yml): validation, "was it inside one", and their
Alertmanager form (time intervals and routes)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import d76maintenance
from d76config import ConfigError, validate_section
from d76maintenance import Maintenance

WINDOWS: dict[str, Any] = {
    "time_zone": "Asia/Seoul",
    "windows": [
        {
            "name": "upbit-weekly", "exchange": "Upbit",
            "weekly": [{"weekdays": ["thursday"], "times": ["10:00-11:30", "23:00-24:00"]}],
        },
        {
            "name": "binance-upgrade", "exchange": "Binance", "time_zone": "UTC",
            "once": [{"start": "2026-12-03T22:00:00+00:00", "end": "2026-12-05T02:00:00+00:00"}],
        },
    ],
}  # fmt: skip


def _maintenance(data: dict[str, Any] = WINDOWS) -> Maintenance:
    return validate_section("maintenance", Maintenance, data)


def test_weekly_windows_are_local_to_their_time_zone() -> None:
    m = _maintenance()
    # Thursday 2026-12-03 10:30 in Seoul is 01:30 UTC.
    assert m.inside("Upbit", datetime(2026, 12, 3, 1, 30, tzinfo=UTC)).name == "upbit-weekly"  # type: ignore[union-attr]
    assert m.inside("Upbit", datetime(2026, 12, 3, 2, 30, tzinfo=UTC)) is None  # 11:30: over
    assert m.inside("Upbit", datetime(2026, 12, 3, 14, 59, tzinfo=UTC)) is not None  # 23:59
    assert m.inside("Binance", datetime(2026, 12, 3, 1, 30, tzinfo=UTC)) is None
    assert m.inside(None, datetime(2026, 12, 3, 1, 30, tzinfo=UTC)) is None


def test_one_off_windows_span_days() -> None:
    m = _maintenance()
    assert m.inside("Binance", datetime(2026, 12, 4, 12, 0, tzinfo=UTC)) is not None
    assert m.inside("Binance", datetime(2026, 12, 5, 2, 0, tzinfo=UTC)) is None  # the end


def test_alertmanager_intervals_and_routes() -> None:
    intervals = d76maintenance.time_intervals(_maintenance())
    assert intervals[0] == {
        "name": "maintenance-upbit-weekly",
        "time_intervals": [
            {
                "weekdays": ["thursday"],
                "times": [
                    {"start_time": "10:00", "end_time": "11:30"},
                    {"start_time": "23:00", "end_time": "24:00"},
                ],
                "location": "Asia/Seoul",
            }
        ],
    }
    days = [(i["days_of_month"], i["times"]) for i in intervals[1]["time_intervals"]]
    assert days == [
        (["3"], [{"start_time": "22:00", "end_time": "24:00"}]),
        (["4"], [{"start_time": "00:00", "end_time": "24:00"}]),
        (["5"], [{"start_time": "00:00", "end_time": "02:00"}]),
    ]
    routes = d76maintenance.routes_for(_maintenance(), "d76-p1")
    assert routes[0] == {
        "matchers": ['exchange="Upbit"'], "receiver": "d76-maintenance",
        "active_time_intervals": ["maintenance-upbit-weekly"], "continue": True,
    }  # fmt: skip
    assert routes[1] == {
        "matchers": ['exchange="Upbit"'], "receiver": "d76-p1",
        "mute_time_intervals": ["maintenance-upbit-weekly"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"time_zone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"windows": [{"name": "x", "exchange": "Upbit"}]}, "a window needs weekly or once"),
        ({"windows": [{"name": "X y", "exchange": "Upbit", "once": []}]}, "name: 'X y'"),
        (
            {"windows": [{"name": "x", "exchange": "Upbit",
                          "weekly": [{"weekdays": ["someday"], "times": ["10:00-11:00"]}]}]},
            "weekdays",
        ),
        (
            {"windows": [{"name": "x", "exchange": "Upbit",
                          "weekly": [{"weekdays": ["monday"], "times": ["11:00-10:00"]}]}]},
            "start before end",
        ),
        (
            {"windows": [{"name": "x", "exchange": "Upbit", "once": [
                {"start": "2026-12-01T00:00:00Z", "end": "2027-02-01T00:00:00Z"}]}]},
            "at most 31 days",
        ),
    ],
)  # fmt: skip
def test_a_bad_window_is_refused_naming_it(change: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _maintenance({**WINDOWS, **change})


def test_the_shipped_file_loads_and_a_watched_file_follows_edits(tmp_path: Path) -> None:
    assert d76maintenance.load(Path("config/maintenance.yml")).windows == []
    path = tmp_path / "maintenance.yml"
    watched = d76maintenance.Watched(path)
    assert watched.current().windows == []  # no file: no windows
    path.write_text("windows:\n  - {name: w, exchange: Upbit, weekly: [{weekdays: [monday], "
                    "times: ['00:00-24:00']}]}\n")  # fmt: skip
    assert [w.name for w in watched.current().windows] == ["w"]
    path.write_text("windows: 3\n")  # an invalid edit keeps the windows in force
    os.utime(path, (1, 1))
    assert [w.name for w in watched.current().windows] == ["w"]
