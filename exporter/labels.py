"""Bounded label values: declared names pass, anything else becomes "other"."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter

from exporter.config import OTHER


class LabelSet:
    def __init__(self, label: str, declared: Iterable[str], unknown: Counter) -> None:
        self._declared = frozenset(declared)
        self._unknown = unknown.labels(label)

    def __call__(self, value: str) -> str:
        if value in self._declared:
            return value
        self._unknown.inc()
        return OTHER
