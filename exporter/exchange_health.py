"""Hooks for D75-3 ExchangeHealthMonitor (``arbitrage/infrastructure/exchange_health.py``)."""

from __future__ import annotations

from exporter.labels import LabelSet
from exporter.metrics import HEALTH_STATES, D75Metrics
from exporter.safe import guarded


class ExchangeHealthHooks:
    def __init__(self, metrics: D75Metrics, exchanges: LabelSet) -> None:
        self._metrics = metrics
        self._exchanges = exchanges
        self.set_status = guarded(
            self._set_status, metrics.hook_errors, "exchange_health.set_status"
        )

    def _set_status(self, exchange: str, status: str) -> None:
        """The exchange's health status changed (or was re-confirmed): HEALTHY..FROZEN."""
        status = status.upper()
        if status not in HEALTH_STATES:
            raise ValueError(f"unknown health status {status!r}")
        name = self._exchanges(exchange)
        gauge = self._metrics.exchange_health_status
        for state in HEALTH_STATES:
            gauge.labels(name, state).set(1 if state == status else 0)
