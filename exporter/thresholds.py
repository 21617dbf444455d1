"""Alert thresholds from config/thresholds.yml, served as ``d75_alert_threshold``.

The rules compare each D75 value against ``d75_alert_threshold{threshold="<name>"}``. This
collector re-reads the file at scrape time when its modification time changes, so an edit
takes effect at the next scrape without a restart or a rule change. A file that does not
parse, or names an unknown threshold, is refused and the previous values are kept; while the
file on disk stays refused, ``d75_exporter_threshold_file_refused`` is 1 and its ``reason``
label says why (rule D75ThresholdFileRefused).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import yaml
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("d76.exporter")

# Every threshold the rules use, with the seed's value.
DEFAULTS: dict[str, float] = {
    "ratelimit_remaining_ratio": 0.20,
    "exchange_rest_latency_seconds": 0.5,
    "exchange_error_ratio": 0.05,
    "exchange_orderbook_age_seconds": 5,
    "route_score_min": 50,
    "route_score_drop_ratio": 0.30,
    "crosssync_imbalance_ratio": 0.50,
    "crosssync_exposure_ratio": 0.80,
    "crosssync_rebalance_failures": 3,
    "crosssync_sync_stale_seconds": 300,
    "exchange_daily_loss_usd": 10_000,
    "route_loss_streak": 3,
    "route_spread_bps": 500,
    "symbol_exposure_ratio": 0.50,
    "symbol_drawdown_ratio": 0.20,
    "symbol_volatility_ratio": 0.10,
    "global_daily_loss_usd": 50_000,
    "total_exposure_usd": 100_000,
    "cross_exchange_imbalance_ratio": 0.50,
}


class ThresholdError(ValueError):
    pass


REASON_LIMIT = 200  # characters of the refusal reason exported as a label


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= REASON_LIMIT else flat[: REASON_LIMIT - 1] + "…"


def parse(text: str) -> dict[str, float]:
    """Thresholds from YAML text: the defaults overridden by the file's values."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ThresholdError(f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ThresholdError("the top level must be a mapping of threshold: number")
    values = dict(DEFAULTS)
    for name, value in data.items():
        if name not in DEFAULTS:
            raise ThresholdError(f"{name}: unknown threshold (known: {', '.join(DEFAULTS)})")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ThresholdError(f"{name}: must be a number, got {value!r}")
        values[name] = float(value)
    return values


class ThresholdCollector(Collector):
    def __init__(self, path: Path | None, errors: Counter) -> None:
        self._path = path
        self._errors = errors
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._values = dict(DEFAULTS)
        self._refused: str | None = None  # why the file on disk is not in force, if it is not
        if path is not None:
            self._values = parse(path.read_text())  # at start-up a bad file is an error
            self._mtime = os.stat(path).st_mtime

    @property
    def values(self) -> dict[str, float]:
        self._refresh()
        return dict(self._values)

    def _refresh(self) -> None:
        if self._path is None:
            return
        with self._lock:
            try:
                mtime: float | None = os.stat(self._path).st_mtime
            except OSError as exc:
                mtime = None
                if self._mtime is not None:  # count the loss of the file once, not per scrape
                    self._errors.inc()
                    self._refused = _one_line(f"unreadable: {exc.strerror or exc}")
                    log.error(
                        "thresholds file %s unreadable, previous values kept: %s", self._path, exc
                    )
            if mtime is None or mtime == self._mtime:
                self._mtime = mtime
                return
            self._mtime = mtime
            try:
                self._values = parse(self._path.read_text())
            except (OSError, ThresholdError) as exc:
                self._errors.inc()
                self._refused = _one_line(str(exc))
                log.error("thresholds in %s refused, previous values kept: %s", self._path, exc)
            else:
                self._refused = None
                log.info("thresholds reloaded from %s", self._path)

    def describe(self) -> list[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self._refresh()
        family = GaugeMetricFamily(
            "d75_alert_threshold",
            "Alerting thresholds from config/thresholds.yml, compared against by the rules.",
            labels=["threshold"],
        )
        for name, value in sorted(self._values.items()):
            family.add_metric([name], value)
        yield family
        refused = GaugeMetricFamily(
            "d75_exporter_threshold_file_refused",
            "1 while the thresholds file on disk is refused (reason says why) and the previous "
            "values stay in force; 0 with an empty reason while the file is in force.",
            labels=["file", "reason"],
        )
        with self._lock:
            reason = self._refused
        refused.add_metric([str(self._path or ""), reason or ""], 0 if reason is None else 1)
        yield refused
