"""Hooks for D75-3 ExchangeHealthMonitor (``arbitrage/infrastructure/exchange_health.py``)."""

from __future__ import annotations

import time

from exporter.labels import Children, LabelSet
from exporter.metrics import HEALTH_STATES, D75Metrics
from exporter.safe import guarded


class ExchangeHealthHooks:
    def __init__(self, metrics: D75Metrics, exchanges: LabelSet) -> None:
        self._exchanges = exchanges
        self._status = Children(metrics.health_status)
        self._transitions = Children(metrics.health_transitions)
        self._previous = Children(metrics.health_previous)
        self._failover = Children(metrics.failover_target)
        self._failover_to: dict[str, str] = {}
        self._latency = Children(metrics.rest_latency)
        self._requests = Children(metrics.rest_requests)
        self._errors = Children(metrics.rest_errors)
        self._orderbook = Children(metrics.orderbook_updated)
        self._current: dict[str, str] = {}
        # Counters and the histogram are born at 0, so that the first request, error or
        # transition is an increase the rules see (a series born at 1 shows no increase).
        for name in exchanges.values:
            self._latency(name)
            self._requests(name)
            self._errors(name)
            for previous in HEALTH_STATES:
                for status in HEALTH_STATES:
                    if previous != status:
                        self._transitions(name, previous, status)
        errors = metrics.hook_errors
        self.set_status = guarded(self._set_status, errors, "exchange_health.set_status")
        self.observe_request = guarded(
            self._observe_request, errors, "exchange_health.observe_request"
        )
        self.orderbook_updated = guarded(
            self._orderbook_updated, errors, "exchange_health.orderbook_updated"
        )
        self.set_failover = guarded(self._set_failover, errors, "exchange_health.set_failover")

    def _set_status(self, exchange: str, status: str) -> None:
        """The exchange's health status is now ``status``: HEALTHY, DEGRADED, DOWN or FROZEN."""
        status = status.upper()
        if status not in HEALTH_STATES:
            raise ValueError(f"unknown health status {status!r}")
        name = self._exchanges(exchange)
        previous = self._current.get(name)
        if previous == status:
            return
        for state in HEALTH_STATES:
            self._status(name, state).set(1 if state == status else 0)
        if previous is not None:
            self._transitions(name, previous, status).inc()
            for state in HEALTH_STATES:
                self._previous(name, state).set(1 if state == previous else 0)
        self._current[name] = status

    def _set_failover(self, exchange: str, target: str | None) -> None:
        """While ``exchange`` is unavailable D75 trades through ``target`` (None: no failover)."""
        name = self._exchanges(exchange)
        old = self._failover_to.pop(name, None)
        if old is not None:
            self._failover(name, old).set(0)
        if target is not None:
            new = self._exchanges(target)
            self._failover(name, new).set(1)
            self._failover_to[name] = new

    def _observe_request(self, exchange: str, seconds: float, ok: bool = True) -> None:
        """One REST request to the exchange took ``seconds``; ``ok=False`` if it failed."""
        name = self._exchanges(exchange)
        self._latency(name).observe(seconds)
        self._requests(name).inc()
        if not ok:
            self._errors(name).inc()

    def _orderbook_updated(self, exchange: str, timestamp: float | None = None) -> None:
        """An orderbook update arrived (at ``timestamp``, Unix seconds; default now)."""
        self._orderbook(self._exchanges(exchange)).set(
            time.time() if timestamp is None else timestamp
        )
