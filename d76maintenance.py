"""Maintenance windows (config/maintenance.yml): recurring weekly windows per exchange in a
time zone, and one-off windows. Pure: parsed and validated here, rendered into Alertmanager's
``time_intervals`` and routes by ``stack.render``, and asked "was this alert inside one?" by
the receiver when it stores an alert.

During a window an exchange's alerts still reach the history (through the ``d76-maintenance``
receiver, which stores and tells nobody); outside it they page as usual. Shared by the stack
and the receiver, like d76config.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from d76config import ConfigError, StrictSettings, _read_yaml, config_dir, validate_section

log = logging.getLogger("d76.config")
RECEIVER = "d76-maintenance"  # Alertmanager receiver: stored in history, delivered nowhere
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIMES = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_EXCHANGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
MAX_ONE_OFF_DAYS = 31


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name: Asia/Seoul, UTC)") from None


class Weekly(StrictSettings):
    weekdays: list[str]  # monday … sunday
    times: list[str]  # "HH:MM-HH:MM", local to the window's time zone; "00:00-24:00" all day

    @field_validator("weekdays")
    @classmethod
    def _days(cls, days: list[str]) -> list[str]:
        bad = [d for d in days if d.lower() not in WEEKDAYS]
        if bad or not days:
            raise ValueError(f"weekdays: one or more of {', '.join(WEEKDAYS)} (got {bad})")
        return [d.lower() for d in days]

    @field_validator("times")
    @classmethod
    def _times(cls, spans: list[str]) -> list[str]:
        for span in spans:
            match = _TIMES.match(span)
            if (
                match is None
                or match.group(1, 2) >= match.group(3, 4)
                or (match.group(3) == "24" and match.group(4) != "00")
            ):
                raise ValueError(f"times: {span!r} is not HH:MM-HH:MM with start before end")
        if not spans:
            raise ValueError("times: at least one HH:MM-HH:MM")
        return spans


class OneOff(StrictSettings):
    start: datetime  # with its offset (2026-12-01T02:00:00+09:00), or in the window's zone
    end: datetime


class Window(StrictSettings):
    name: str
    exchange: str
    time_zone: str | None = None  # default: the file's time_zone
    weekly: list[Weekly] = Field(default_factory=list)
    once: list[OneOff] = Field(default_factory=list)
    reason: str = ""

    @model_validator(mode="after")
    def _valid(self) -> Window:
        if not _NAME.match(self.name):
            raise ValueError(f"name: {self.name!r}: lower-case letters, digits, - and _")
        if not _EXCHANGE.match(self.exchange):
            raise ValueError(f"exchange: {self.exchange!r} is not an exchange name")
        if not self.weekly and not self.once:
            raise ValueError(f"{self.name}: a window needs weekly or once")
        if self.time_zone is not None:
            _zone(self.time_zone)
        return self


class Maintenance(StrictSettings):
    time_zone: str = "UTC"
    windows: list[Window] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> Maintenance:
        _zone(self.time_zone)
        names = [w.name for w in self.windows]
        if len(names) != len(set(names)):
            raise ValueError("windows: each name once")
        for window in self.windows:
            zone = _zone(window.time_zone or self.time_zone)
            for one in window.once:
                start, end = _aware(one.start, zone), _aware(one.end, zone)
                if not start < end <= start + timedelta(days=MAX_ONE_OFF_DAYS):
                    raise ValueError(
                        f"{window.name}: once: start before end, at most {MAX_ONE_OFF_DAYS} days"
                    )
        return self

    def zone(self, window: Window) -> ZoneInfo:
        return _zone(window.time_zone or self.time_zone)

    def inside(self, exchange: str | None, moment: datetime) -> Window | None:
        """The window of ``exchange`` that ``moment`` falls in (None: none)."""
        for window in self.windows:
            if window.exchange == exchange and _contains(window, self.zone(window), moment):
                return window
        return None


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _contains(window: Window, zone: ZoneInfo, moment: datetime) -> bool:
    local = moment.astimezone(zone)
    minute = local.hour * 60 + local.minute
    for weekly in window.weekly:
        if WEEKDAYS[local.weekday()] in weekly.weekdays:
            for span in weekly.times:
                start, end = span.split("-")
                if _minutes(start) <= minute < _minutes(end):
                    return True
    return any(_aware(o.start, zone) <= moment < _aware(o.end, zone) for o in window.once)


def load(path: Path | None = None) -> Maintenance:
    """config/maintenance.yml (D76_CONFIG_DIR); no file: no windows. ConfigError names the key."""
    path = path or config_dir() / "maintenance.yml"
    return validate_section("maintenance", Maintenance, _read_yaml(path))


class Watched:
    """config/maintenance.yml for a long-running process: read again when the file changes
    (``make reload`` needs no receiver restart). An invalid edit keeps the windows in force,
    and the error is logged once."""

    def __init__(self, path: Path | None = None) -> None:
        self._fixed = path
        self._seen: tuple[Path, float | None] | None = None
        self._current = Maintenance()

    def current(self) -> Maintenance:
        path = self._fixed or config_dir() / "maintenance.yml"
        try:
            stamp: float | None = path.stat().st_mtime
        except OSError:
            stamp = None
        if (path, stamp) != self._seen:
            self._seen = (path, stamp)
            try:
                self._current = load(path) if stamp is not None else Maintenance()
            except ConfigError as exc:
                log.error("%s; the windows in force stay", exc)
        return self._current


# -- Alertmanager ------------------------------------------------------------------------------


def _days(start: datetime, end: datetime) -> Iterator[tuple[date, time, time | None]]:
    """A one-off window, day by day in its zone: (day, from, to; None: to midnight)."""
    day = start.date()
    while datetime.combine(day, time(0), start.tzinfo) < end:
        first = start.time() if day == start.date() else time(0)
        last = end.time() if day == end.date() else None
        if last is None or last > first:
            yield day, first, last
        day += timedelta(days=1)


def _span(first: time, last: time | None) -> dict[str, str]:
    return {
        "start_time": first.strftime("%H:%M"),
        "end_time": last.strftime("%H:%M") if last else "24:00",
    }


def time_intervals(maintenance: Maintenance) -> list[dict[str, Any]]:
    """Alertmanager's ``time_intervals``: one named interval per window."""
    rendered = []
    for window in maintenance.windows:
        zone = maintenance.zone(window)
        entries: list[dict[str, Any]] = [
            {"weekdays": w.weekdays, "times": [
                {"start_time": t.split("-")[0], "end_time": t.split("-")[1]} for t in w.times
            ], "location": zone.key}
            for w in window.weekly
        ]  # fmt: skip
        for one in window.once:
            start = _aware(one.start, zone).astimezone(zone)
            end = _aware(one.end, zone).astimezone(zone)
            for day, first, last in _days(start, end):
                entries.append(
                    {
                        "times": [_span(first, last)],
                        "days_of_month": [str(day.day)],
                        "months": [str(day.month)],
                        "years": [str(day.year)],
                        "location": zone.key,
                    }
                )
        rendered.append({"name": f"maintenance-{window.name}", "time_intervals": entries})
    return rendered


def routes_for(maintenance: Maintenance, receiver: str) -> list[dict[str, Any]]:
    """Child routes for a severity route delivering to ``receiver``: during an exchange's
    window its alerts go to ``d76-maintenance`` (history only), and the page is muted."""
    children: list[dict[str, Any]] = []
    by_exchange: dict[str, list[str]] = {}
    for window in maintenance.windows:
        by_exchange.setdefault(window.exchange, []).append(f"maintenance-{window.name}")
    for exchange, names in by_exchange.items():
        children.append(
            {"matchers": [f'exchange="{exchange}"'], "receiver": RECEIVER,
             "active_time_intervals": list(names), "continue": True}
        )  # fmt: skip
        children.append(
            {"matchers": [f'exchange="{exchange}"'], "receiver": receiver,
             "mute_time_intervals": list(names)}
        )  # fmt: skip
    return children


__all__ = ["RECEIVER", "ConfigError", "Maintenance", "Watched", "Window", "load", "routes_for"]
