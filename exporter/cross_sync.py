"""Hooks for D75-4 CrossSync (``arbitrage/domain/cross_sync.py``)."""

from __future__ import annotations

import time

from exporter.labels import Children, LabelSet
from exporter.metrics import D75Metrics
from exporter.safe import guarded


class CrossSyncHooks:
    def __init__(self, metrics: D75Metrics, symbols: LabelSet, exchanges: LabelSet) -> None:
        self._symbols = symbols
        self._exchanges = exchanges
        self._imbalance = Children(metrics.imbalance)
        self._exposure_usd = Children(metrics.exposure_usd)
        self._exposure_ratio = Children(metrics.exposure_ratio)
        self._failures = Children(metrics.rebalance_failures)
        self._sync_failures = Children(metrics.sync_failures)
        self._sync_success = Children(metrics.sync_success)
        self._heavy = Children(metrics.heavy_exchange)
        self._direction = Children(metrics.rebalance_direction)
        self._heavy_now: dict[str, str] = {}
        self._direction_now: dict[str, tuple[str, str]] = {}
        self._streak: dict[str, int] = {}
        for exchange in exchanges.values:  # born at 0: the first failure is an increase
            self._sync_failures(exchange)
        errors = metrics.hook_errors
        self.set_imbalance = guarded(self._set_imbalance, errors, "cross_sync.set_imbalance")
        self.set_exposure = guarded(self._set_exposure, errors, "cross_sync.set_exposure")
        self.rebalance_started = guarded(
            self._rebalance_started, errors, "cross_sync.rebalance_started"
        )
        self.rebalance_result = guarded(
            self._rebalance_result, errors, "cross_sync.rebalance_result"
        )
        self.inventory_sync_failed = guarded(
            self._inventory_sync_failed, errors, "cross_sync.inventory_sync_failed"
        )
        self.inventory_synced = guarded(
            self._inventory_synced, errors, "cross_sync.inventory_synced"
        )

    def _set_imbalance(self, symbol: str, ratio: float, heavy: str | None = None) -> None:
        """Inventory imbalance of ``symbol`` between exchanges, 0-1; ``heavy``: the exchange
        holding the larger share."""
        name = self._symbols(symbol)
        self._imbalance(name).set(ratio)
        old = self._heavy_now.pop(name, None)
        new = self._exchanges(heavy) if heavy is not None else None
        if old is not None and old != new:
            self._heavy(name, old).set(0)
        if new is not None:
            self._heavy(name, new).set(1)
            self._heavy_now[name] = new

    def _rebalance_started(self, symbol: str, buy: str, sell: str) -> None:
        """A rebalance of ``symbol`` began: buying on ``buy``, selling on ``sell``."""
        name = self._symbols(symbol)
        self._clear_direction(name)
        direction = (self._exchanges(buy), self._exchanges(sell))
        self._direction(name, *direction).set(1)
        self._direction_now[name] = direction

    def _clear_direction(self, name: str) -> None:
        old = self._direction_now.pop(name, None)
        if old is not None:
            self._direction(name, *old).set(0)

    def _set_exposure(self, symbol: str, usd: float, ratio_of_capital: float) -> None:
        """Exposure held in ``symbol``, in USD and as a fraction of capital."""
        name = self._symbols(symbol)
        self._exposure_usd(name).set(usd)
        self._exposure_ratio(name).set(ratio_of_capital)

    def _rebalance_result(self, symbol: str, ok: bool) -> None:
        """A rebalance of ``symbol`` finished; failures in a row are counted, a success resets."""
        name = self._symbols(symbol)
        self._clear_direction(name)
        streak = 0 if ok else self._streak.get(name, 0) + 1
        self._streak[name] = streak
        self._failures(name).set(streak)

    def _inventory_sync_failed(self, exchange: str) -> None:
        """An inventory sync with ``exchange`` failed (balance API timeout or error)."""
        self._sync_failures(self._exchanges(exchange)).inc()

    def _inventory_synced(self, exchange: str, timestamp: float | None = None) -> None:
        """An inventory sync with ``exchange`` succeeded (at ``timestamp``; default now)."""
        self._sync_success(self._exchanges(exchange)).set(
            time.time() if timestamp is None else timestamp
        )
