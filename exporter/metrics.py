"""Every metric the exporter serves, declared in one place with its HELP text.

Naming: ``d75_`` prefix, base units (``_seconds``, ``_ratio``, ``_usd``), ``_total`` on
counters. Every metric is registered on the registry given, so a test can use a fresh one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

HEALTH_STATES = ("HEALTHY", "DEGRADED", "DOWN", "FROZEN")


class D75Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # ExchangeHealth (D75-3) -------------------------------------------------------------
        self.exchange_health_status = Gauge(
            "d75_exchange_health_status",
            "Exchange health as a state set: 1 for the current status, 0 for the others.",
            ["exchange", "status"],
            registry=registry,
        )
        # ArbRoute / ArbUniverse (D75-4) ----------------------------------------------------
        self.route_score = Gauge(
            "d75_route_score",
            "RouteScore of an arbitrage route, 0-100; below 50 the route is not tradable.",
            ["route"],
            registry=registry,
        )
        # RiskGuard (D75-5), tier 4 GlobalGuard ----------------------------------------------
        self.global_daily_loss = Gauge(
            "d75_riskguard_global_daily_loss_usd",
            "Realised loss across all exchanges since the start of the trading day, in USD.",
            registry=registry,
        )
        self.global_daily_loss_limit = Gauge(
            "d75_riskguard_global_daily_loss_limit_usd",
            "GlobalGuard daily loss limit in USD; above it trading is blocked until the next day.",
            registry=registry,
        )
        self.portfolio_value = Gauge(
            "d75_riskguard_portfolio_value_usd",
            "Current portfolio value in USD.",
            registry=registry,
        )
        self.portfolio_start_value = Gauge(
            "d75_riskguard_portfolio_start_value_usd",
            "Portfolio value at the start of the trading day, in USD.",
            registry=registry,
        )
        # The exporter itself ----------------------------------------------------------------
        self.hook_errors = Counter(
            "d75_exporter_hook_errors_total",
            "Exceptions raised inside a hook and swallowed so the engine never sees them.",
            ["hook"],
            registry=registry,
        )
        self.unknown_label_values = Counter(
            "d75_exporter_unknown_label_values_total",
            "Hook calls naming an exchange, route or symbol not declared in the exporter config.",
            ["label"],
            registry=registry,
        )
