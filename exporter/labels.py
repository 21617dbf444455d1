"""Bounded, cached label values.

``LabelSet`` maps a name to itself if it is declared in the config, else to "other", so a
typo or a new listing in the engine cannot explode the series count. ``Children`` caches a
metric's label children: ``metric.labels()`` costs about 1 µs, a dictionary hit 0.05 µs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter

from exporter.config import OTHER


class LabelSet:
    def __init__(self, label: str, declared: Iterable[str], unknown: Counter) -> None:
        self._declared = frozenset(declared)
        self._unknown = unknown.labels(label)
        # Every value this set can return, "other" included: the hooks create their counters'
        # children for each at start-up, so a first event is an increase from 0 that rules see.
        self.values: tuple[str, ...] = (*dict.fromkeys(declared), OTHER)

    def __call__(self, value: str) -> str:
        if value in self._declared:
            return value
        self._unknown.inc()
        return OTHER


class Children:
    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._metric.labels(*values)
        return child
