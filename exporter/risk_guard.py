"""Hooks for D75-5 4-Tier RiskGuard (``arbitrage/domain/risk_guard.py``).

Tier 1 ExchangeGuard, tier 2 RouteGuard, tier 3 SymbolGuard, tier 4 GlobalGuard: the values
each guard judges, and the decision it takes.
"""

from __future__ import annotations

from exporter.labels import Children, LabelSet
from exporter.metrics import DECISIONS, GUARDS, REASONS, D75Metrics
from exporter.safe import guarded


class RiskGuardHooks:
    def __init__(
        self,
        metrics: D75Metrics,
        exchanges: LabelSet,
        routes: LabelSet,
        symbols: LabelSet,
        scopes: LabelSet,
    ) -> None:
        self._m = metrics
        self._exchanges, self._routes, self._symbols, self._scopes = (
            exchanges,
            routes,
            symbols,
            scopes,
        )
        self._decision = Children(metrics.guard_decision)
        self._reason = Children(metrics.guard_reason)
        self._exchange_loss = Children(metrics.exchange_daily_loss)
        self._loss_streak = Children(metrics.route_loss_streak)
        self._spread = Children(metrics.route_spread)
        self._symbol_exposure = Children(metrics.symbol_exposure)
        self._drawdown = Children(metrics.symbol_drawdown)
        self._volatility = Children(metrics.symbol_volatility)
        self._current: dict[tuple[str, str], tuple[str, str]] = {}
        e = metrics.hook_errors
        self.set_decision = guarded(self._set_decision, e, "risk_guard.set_decision")
        self.set_exchange_daily_loss = guarded(
            self._set_exchange_daily_loss, e, "risk_guard.set_exchange_daily_loss"
        )
        self.set_route_loss_streak = guarded(
            self._set_route_loss_streak, e, "risk_guard.set_route_loss_streak"
        )
        self.set_route_spread = guarded(self._set_route_spread, e, "risk_guard.set_route_spread")
        self.set_symbol_risk = guarded(self._set_symbol_risk, e, "risk_guard.set_symbol_risk")
        self.set_global_daily_loss = guarded(
            self._set_global_daily_loss, e, "risk_guard.set_global_daily_loss"
        )
        self.set_total_exposure = guarded(
            self._set_total_exposure, e, "risk_guard.set_total_exposure"
        )
        self.set_cross_exchange_imbalance = guarded(
            self._set_cross_exchange_imbalance, e, "risk_guard.set_cross_exchange_imbalance"
        )
        self.set_portfolio = guarded(self._set_portfolio, e, "risk_guard.set_portfolio")

    def _set_decision(self, guard: str, scope: str, decision: str, reason: str = "none") -> None:
        """``guard`` decided ``decision`` for ``scope`` (an exchange, route, symbol or global)."""
        if guard not in GUARDS:
            raise ValueError(f"unknown guard {guard!r}")
        decision, reason = decision.upper(), reason.lower()
        if decision not in DECISIONS or reason not in REASONS:
            raise ValueError(f"unknown decision {decision!r} or reason {reason!r}")
        key = (guard, self._scopes(scope))
        if self._current.get(key) == (decision, reason):
            return
        for known in DECISIONS:
            self._decision(*key, known).set(1 if known == decision else 0)
        for known in REASONS:
            self._reason(*key, known).set(1 if known == reason else 0)
        self._current[key] = (decision, reason)

    # Tier 1 ExchangeGuard
    def _set_exchange_daily_loss(self, exchange: str, usd: float) -> None:
        self._exchange_loss(self._exchanges(exchange)).set(usd)

    # Tier 2 RouteGuard
    def _set_route_loss_streak(self, route: str, losses: int) -> None:
        self._loss_streak(self._routes(route)).set(losses)

    def _set_route_spread(self, route: str, bps: float) -> None:
        self._spread(self._routes(route)).set(bps)

    # Tier 3 SymbolGuard
    def _set_symbol_risk(
        self,
        symbol: str,
        *,
        exposure_ratio: float | None = None,
        drawdown_ratio: float | None = None,
        volatility_ratio: float | None = None,
    ) -> None:
        name = self._symbols(symbol)
        if exposure_ratio is not None:
            self._symbol_exposure(name).set(exposure_ratio)
        if drawdown_ratio is not None:
            self._drawdown(name).set(drawdown_ratio)
        if volatility_ratio is not None:
            self._volatility(name).set(volatility_ratio)

    # Tier 4 GlobalGuard
    def _set_global_daily_loss(self, usd: float) -> None:
        self._m.global_daily_loss.set(usd)

    def _set_total_exposure(self, usd: float) -> None:
        self._m.total_exposure.set(usd)

    def _set_cross_exchange_imbalance(self, ratio: float) -> None:
        self._m.cross_imbalance.set(ratio)

    def _set_portfolio(self, value_usd: float, start_of_day_usd: float) -> None:
        self._m.portfolio_value.set(value_usd)
        self._m.portfolio_start.set(start_of_day_usd)
