"""Hooks for D75-5 4-Tier RiskGuard (``arbitrage/domain/risk_guard.py``)."""

from __future__ import annotations

from exporter.metrics import D75Metrics
from exporter.safe import guarded


class RiskGuardHooks:
    def __init__(self, metrics: D75Metrics) -> None:
        self._metrics = metrics
        errors = metrics.hook_errors
        self.set_global_daily_loss = guarded(
            self._set_global_daily_loss, errors, "risk_guard.set_global_daily_loss"
        )
        self.set_portfolio = guarded(self._set_portfolio, errors, "risk_guard.set_portfolio")

    def _set_global_daily_loss(self, loss_usd: float) -> None:
        """Tier 4 GlobalGuard: realised loss since the start of the day, in USD (>= 0)."""
        self._metrics.global_daily_loss.set(loss_usd)

    def _set_portfolio(self, value_usd: float, start_of_day_usd: float) -> None:
        """Current portfolio value and its value at the start of the trading day."""
        self._metrics.portfolio_value.set(value_usd)
        self._metrics.portfolio_start_value.set(start_of_day_usd)
