"""Every metric the exporter serves, declared in one place with its HELP text.

Naming: ``d75_`` prefix, base units (``_seconds``, ``_ratio``, ``_usd``, ``_bps``), ``_total``
on counters. Label values for exchanges, routes and symbols are bounded by the exporter's
config (anything else is exported as "other"). Every metric is registered on the registry
given, so a test can use a fresh one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

HEALTH_STATES = ("HEALTHY", "DEGRADED", "DOWN", "FROZEN")
ROUTE_STATES = ("TRADE", "SKIP")
SCORE_COMPONENTS = ("spread", "health", "fee", "inventory")
GUARDS = ("ExchangeGuard", "RouteGuard", "SymbolGuard", "GlobalGuard")
DECISIONS = ("ALLOW", "DEGRADE", "COOLDOWN", "BLOCK")
# Why a guard decided what it did (the seed's triggers); "none" while it allows.
REASONS = (
    "none",
    "daily_loss",
    "health",
    "rate_limit",
    "loss_streak",
    "route_score",
    "spread",
    "exposure",
    "drawdown",
    "volatility",
    "total_exposure",
    "imbalance",
)
# REST latency buckets: fine around the 500 ms threshold so a quantile there is precise.
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 2.0, 5.0, 10.0)


class D75Metrics:
    """Every metric, declared in one place: long because it is the table of them, one entry each,
    grouped by D75 module, so docs/METRICS.md and the rules can be read against it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, labels, registry=registry)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        # RateLimiter (D75-3) ----------------------------------------------------------------
        self.ratelimit_remaining = gauge(
            "d75_ratelimit_remaining",
            "Requests left in the current rate-limit window.",
            ("exchange", "category"),
        )
        self.ratelimit_limit = gauge(
            "d75_ratelimit_limit",
            "Requests allowed per rate-limit window.",
            ("exchange", "category"),
        )
        self.ratelimit_429 = counter(
            "d75_ratelimit_http_429_responses",
            "HTTP 429 (rate limit exceeded) answers received from the exchange.",
            ("exchange", "category"),
        )

        # ExchangeHealth (D75-3) -------------------------------------------------------------
        self.health_status = gauge(
            "d75_exchange_health_status",
            "Exchange health as a state set: 1 for the current status, 0 for the others.",
            ("exchange", "status"),
        )
        self.health_previous = gauge(
            "d75_exchange_health_previous_status",
            "Exchange health before its last change, as a state set (the alert's Previous:).",
            ("exchange", "status"),
        )
        self.failover_target = gauge(
            "d75_exchange_failover_target",
            "1 for the exchange D75 fails over to while this exchange is unavailable.",
            ("exchange", "target"),
        )
        self.health_transitions = counter(
            "d75_exchange_health_transitions",
            "Health status changes, by previous and new status.",
            ("exchange", "from_status", "to_status"),
        )
        self.rest_latency = Histogram(
            "d75_exchange_rest_request_duration_seconds",
            "Duration of REST requests to the exchange.",
            ("exchange",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rest_requests = counter(
            "d75_exchange_rest_requests", "REST requests made to the exchange.", ("exchange",)
        )
        self.rest_errors = counter(
            "d75_exchange_rest_request_errors",
            "REST requests to the exchange that failed (error status, timeout).",
            ("exchange",),
        )
        self.orderbook_updated = gauge(
            "d75_exchange_orderbook_last_update_timestamp_seconds",
            "Unix time of the last orderbook update received from the exchange.",
            ("exchange",),
        )

        # ArbRoute / ArbUniverse (D75-4) -----------------------------------------------------
        self.route_score = gauge(
            "d75_route_score",
            "RouteScore of an arbitrage route, 0-100; below 50 the route is not tradable.",
            ("route",),
        )
        self.route_score_component = gauge(
            "d75_route_score_component",
            "Components of the RouteScore (spread, health, fee, inventory), each 0-100.",
            ("route", "component"),
        )
        self.route_exchange = gauge(
            "d75_route_exchange",
            "1 for each exchange a route trades on (names the exchange behind a low score).",
            ("route", "exchange"),
        )
        self.route_state = gauge(
            "d75_route_state", "Route state as a state set: TRADE or SKIP.", ("route", "state")
        )
        self.universe_routes = gauge("d75_universe_routes", "Routes in the ArbUniverse.")
        self.universe_skipped = gauge(
            "d75_universe_routes_skipped", "Routes in the ArbUniverse currently in state SKIP."
        )

        # CrossSync (D75-4) ------------------------------------------------------------------
        self.imbalance = gauge(
            "d75_crosssync_imbalance_ratio",
            "Inventory imbalance of a symbol between exchanges, 0-1 (0 = balanced).",
            ("symbol",),
        )
        self.heavy_exchange = gauge(
            "d75_crosssync_heavy_exchange",
            "1 for the exchange that holds the larger share of an imbalanced symbol.",
            ("symbol", "exchange"),
        )
        self.rebalance_direction = gauge(
            "d75_crosssync_rebalance_direction",
            "1 while a rebalance of the symbol is under way, buying on one exchange and selling "
            "on the other.",
            ("symbol", "buy", "sell"),
        )
        self.exposure_usd = gauge(
            "d75_crosssync_exposure_usd", "Exposure held in a symbol, in USD.", ("symbol",)
        )
        self.exposure_ratio = gauge(
            "d75_crosssync_exposure_ratio",
            "Exposure held in a symbol as a fraction of capital, 0-1.",
            ("symbol",),
        )
        self.rebalance_failures = gauge(
            "d75_crosssync_rebalance_consecutive_failures",
            "Rebalance executions that failed in a row (0 after a success).",
            ("symbol",),
        )
        self.sync_failures = counter(
            "d75_crosssync_inventory_sync_failures",
            "Inventory syncs that failed (balance API timeout or error).",
            ("exchange",),
        )
        self.sync_success = gauge(
            "d75_crosssync_inventory_last_success_timestamp_seconds",
            "Unix time of the last successful inventory sync.",
            ("exchange",),
        )

        # RiskGuard (D75-5), all four tiers -------------------------------------------------
        self.guard_decision = gauge(
            "d75_riskguard_decision",
            "Current decision of a guard for a scope, as a state set over ALLOW..BLOCK.",
            ("guard", "scope", "decision"),
        )
        self.guard_reason = gauge(
            "d75_riskguard_decision_reason",
            "Why the guard decided what it did, as a state set over the known reasons.",
            ("guard", "scope", "reason"),
        )
        self.exchange_daily_loss = gauge(
            "d75_riskguard_exchange_daily_loss_usd",
            "Tier 1: realised loss on an exchange since the start of the day, in USD.",
            ("exchange",),
        )
        self.route_loss_streak = gauge(
            "d75_riskguard_route_loss_streak",
            "Tier 2: losing trades in a row on a route.",
            ("route",),
        )
        self.route_spread = gauge(
            "d75_riskguard_route_spread_bps",
            "Tier 2: current spread of a route, in basis points.",
            ("route",),
        )
        self.symbol_exposure = gauge(
            "d75_riskguard_symbol_exposure_ratio",
            "Tier 3: exposure in a symbol as a fraction of total exposure, 0-1.",
            ("symbol",),
        )
        self.symbol_drawdown = gauge(
            "d75_riskguard_symbol_drawdown_ratio",
            "Tier 3: drawdown of a symbol position from its peak, 0-1.",
            ("symbol",),
        )
        self.symbol_volatility = gauge(
            "d75_riskguard_symbol_volatility_ratio",
            "Tier 3: volatility proxy of a symbol (e.g. 1h range / price), 0-1.",
            ("symbol",),
        )
        self.global_daily_loss = gauge(
            "d75_riskguard_global_daily_loss_usd",
            "Tier 4: realised loss across all exchanges since the start of the day, in USD.",
        )
        self.total_exposure = gauge(
            "d75_riskguard_total_exposure_usd", "Tier 4: total exposure across symbols, in USD."
        )
        self.cross_imbalance = gauge(
            "d75_riskguard_cross_exchange_imbalance_ratio",
            "Tier 4: inventory imbalance across exchanges, 0-1.",
        )
        self.portfolio_value = gauge(
            "d75_riskguard_portfolio_value_usd", "Current portfolio value, in USD."
        )
        self.portfolio_start = gauge(
            "d75_riskguard_portfolio_start_value_usd",
            "Portfolio value at the start of the trading day, in USD.",
        )

        # send_alert() and the exporter itself ----------------------------------------------
        self.alerts_sent = counter(
            "d75_exporter_alerts_sent",
            "send_alert() events accepted by an Alertmanager.",
            ("alertmanager",),
        )
        self.alerts_failed = counter(
            "d75_exporter_alerts_failed",
            "send_alert() deliveries to an Alertmanager that failed after every retry.",
            ("alertmanager",),
        )
        self.alerts_rejected = counter(
            "d75_exporter_alerts_rejected",
            "send_alert() events an Alertmanager refused as invalid (HTTP 400): dropped alone, "
            "the rest of their batch was delivered.",
            ("alertmanager",),
        )
        self.alerts_dropped = counter(
            "d75_exporter_alerts_dropped",
            "send_alert() events dropped because an Alertmanager's queue was full or the "
            "sender stopped.",
        )
        self.alert_queue = gauge(
            "d75_exporter_alert_queue_length",
            "send_alert() events waiting to be posted (the longest of the Alertmanagers' queues).",
        )
        self.hook_errors = counter(
            "d75_exporter_hook_errors",
            "Exceptions raised inside a hook and swallowed so the engine never sees them.",
            ("hook",),
        )
        self.unknown_label_values = counter(
            "d75_exporter_unknown_label_values",
            "Hook calls naming an exchange, route or symbol not declared in the config.",
            ("label",),
        )
        self.threshold_reload_errors = counter(
            "d75_exporter_threshold_reload_errors",
            "Reloads of the thresholds file that failed (the previous values stay).",
        )
