"""Deterministic scenarios that play every event of the D75 seed through the exporter's hooks.

A scenario is a list of timed steps (times in scenario seconds; the player divides them by
``--speed``). A step may also install a *ticker*: a function the player calls every 0.25 s of
real time until another step replaces it, for signals that are continuous in D75 (REST
requests and their latency, orderbook updates, inventory syncs).

Longer than the house's usual module because it is data: one scenario per seed event, side
by side so their numbers can be read against the seed's.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from exporter.facade import D75Exporter

Action = Callable[[D75Exporter], None]
Tick = Callable[[D75Exporter], None]


@dataclass(frozen=True)
class Step:
    at: float  # seconds from the start of the scenario
    note: str
    apply: Action
    tickers: Mapping[str, Tick | None] = field(default_factory=dict)  # name -> ticker, None stops


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    steps: tuple[Step, ...]
    loop_after: float | None = None  # restart this many seconds after the start, if set


START_OF_DAY_USD = 1_000_000.0
ROUTE = "Upbit-Binance-BTCKRW"


# -- continuous signals -----------------------------------------------------------------------


def traffic(latency: float = 0.08, error_ratio: float = 0.0, only: str | None = None) -> Tick:
    """40 REST requests per tick per exchange; ``only`` gets the given latency and errors."""
    rng = random.Random(75)

    def tick(d75: D75Exporter) -> None:
        for exchange in d75.settings.exchanges:
            slow = only is None or exchange == only
            mean = latency if slow else 0.08
            errors = error_ratio if slow else 0.0
            for i in range(40):
                d75.exchange_health.observe_request(
                    exchange, mean * rng.uniform(0.9, 1.1), ok=i >= errors * 40
                )

    return tick


def orderbooks(except_exchange: str | None = None) -> Tick:
    def tick(d75: D75Exporter) -> None:
        for exchange in d75.settings.exchanges:
            if exchange != except_exchange:
                d75.exchange_health.orderbook_updated(exchange)

    return tick


def inventory(failing: str | None = None) -> Tick:
    def tick(d75: D75Exporter) -> None:
        for exchange in d75.settings.exchanges:
            if exchange == failing:
                d75.cross_sync.inventory_sync_failed(exchange)
            else:
                d75.cross_sync.inventory_synced(exchange)

    return tick


NORMAL = {"traffic": traffic(), "orderbooks": orderbooks(), "inventory": inventory()}


# -- states -------------------------------------------------------------------------------------


def calm(d75: D75Exporter) -> None:
    """Every exchange healthy, every route tradable, balanced inventory, no loss."""
    s = d75.settings
    for exchange in s.exchanges:
        d75.exchange_health.set_status(exchange, "HEALTHY")
        d75.exchange_health.set_failover(exchange, None)
        d75.risk_guard.set_exchange_daily_loss(exchange, 0)
        d75.risk_guard.set_decision("ExchangeGuard", exchange, "ALLOW")
        for category in s.categories:
            d75.rate_limiter.set_remaining(exchange, category, 1000, 1200)
    for route in s.routes:
        d75.routes.set_score(route, 80, spread=80, health=90, fee=70, inventory=80)
        d75.routes.set_state(route, "TRADE")
        d75.routes.set_exchanges(route, *route.split("-")[:2])  # "Upbit-Binance-BTCKRW"
        d75.risk_guard.set_route_loss_streak(route, 0)
        d75.risk_guard.set_route_spread(route, 120)
        d75.risk_guard.set_decision("RouteGuard", route, "ALLOW")
    d75.routes.set_universe(len(s.routes), 0)
    for symbol in s.symbols:
        d75.cross_sync.set_imbalance(symbol, 0.1)
        d75.cross_sync.set_exposure(symbol, 20_000, 0.2)
        d75.cross_sync.rebalance_result(symbol, True)
        d75.risk_guard.set_symbol_risk(
            symbol, exposure_ratio=0.3, drawdown_ratio=0.02, volatility_ratio=0.03
        )
        d75.risk_guard.set_decision("SymbolGuard", symbol, "ALLOW")
    d75.risk_guard.set_global_daily_loss(0)
    d75.risk_guard.set_total_exposure(60_000)
    d75.risk_guard.set_cross_exchange_imbalance(0.1)
    d75.risk_guard.set_portfolio(START_OF_DAY_USD, START_OF_DAY_USD)
    d75.risk_guard.set_decision("GlobalGuard", "global", "ALLOW")


def _do(*actions: Action) -> Action:
    def apply(d75: D75Exporter) -> None:
        for action in actions:
            action(d75)

    return apply


def health(exchange: str, status: str) -> Action:
    return lambda d75: d75.exchange_health.set_status(exchange, status)


def failover(exchange: str, target: str | None) -> Action:
    return lambda d75: d75.exchange_health.set_failover(exchange, target)


def decision(guard: str, scope: str, verdict: str, reason: str = "none") -> Action:
    return lambda d75: d75.risk_guard.set_decision(guard, scope, verdict, reason)


def score(route: str, value: float, **components: float) -> Action:
    return lambda d75: d75.routes.set_score(route, value, **components)


def global_daily_loss(d75: D75Exporter) -> None:
    """The seed's example: $55,000 lost of a $50,000 limit, portfolio $945,000 of $1,000,000."""
    d75.risk_guard.set_global_daily_loss(55_000)
    d75.risk_guard.set_portfolio(945_000, START_OF_DAY_USD)
    d75.risk_guard.set_decision("GlobalGuard", "global", "BLOCK", "daily_loss")


def global_daily_loss_large(d75: D75Exporter) -> None:
    """Another engine's figures: $72,000 lost, portfolio $928,000 of $1,000,000."""
    d75.risk_guard.set_global_daily_loss(72_000)
    d75.risk_guard.set_portfolio(928_000, START_OF_DAY_USD)
    d75.risk_guard.set_decision("GlobalGuard", "global", "BLOCK", "daily_loss")


def rate_limit_squeeze(d75: D75Exporter) -> None:
    """The seed's example: Binance order limit at 15% (180/1200)."""
    d75.rate_limiter.set_remaining("Binance", "order", 180, 1200)
    d75.risk_guard.set_decision("ExchangeGuard", "Binance", "DEGRADE", "rate_limit")


def http_429_burst(d75: D75Exporter) -> None:
    for _ in range(5):
        d75.rate_limiter.http_429("Binance", "order")


def all_routes_skip(d75: D75Exporter) -> None:
    for route in d75.settings.routes:
        d75.routes.set_score(route, 35, spread=20, health=40, fee=60, inventory=30)
        d75.routes.set_state(route, "SKIP")
    d75.routes.set_universe(len(d75.settings.routes), len(d75.settings.routes))


def route_score_low(d75: D75Exporter) -> None:
    """The seed's example: score 42 (spread 50, health 30, fee 60, inventory 40), route SKIP,
    its health score low because Binance, one of its exchanges, is DEGRADED."""
    d75.exchange_health.set_status("Binance", "DEGRADED")
    d75.routes.set_exchanges(ROUTE, "Upbit", "Binance")
    d75.routes.set_score(ROUTE, 42, spread=50, health=30, fee=60, inventory=40)
    d75.routes.set_state(ROUTE, "SKIP")
    d75.routes.set_universe(len(d75.settings.routes), 1)
    d75.risk_guard.set_decision("RouteGuard", ROUTE, "BLOCK", "route_score")


def high_exposure(d75: D75Exporter) -> None:
    """The seed's example: BTC exposure $85,000 (85% of capital), imbalance 0.65 with Upbit
    heavy, and the rebalance D75 starts: buy on Binance, sell on Upbit."""
    d75.cross_sync.set_imbalance("BTC", 0.65, heavy="Upbit")
    d75.cross_sync.rebalance_started("BTC", buy="Binance", sell="Upbit")
    d75.cross_sync.set_exposure("BTC", 85_000, 0.85)


def rebalance_failures(d75: D75Exporter) -> None:
    for _ in range(3):
        d75.cross_sync.rebalance_result("BTC", False)


def exchange_guard(d75: D75Exporter) -> None:
    d75.risk_guard.set_exchange_daily_loss("Upbit", 12_000)
    d75.risk_guard.set_decision("ExchangeGuard", "Upbit", "BLOCK", "daily_loss")


def route_guard(d75: D75Exporter) -> None:
    d75.risk_guard.set_route_loss_streak(ROUTE, 3)
    d75.risk_guard.set_route_spread(ROUTE, 620)
    d75.risk_guard.set_decision("RouteGuard", ROUTE, "COOLDOWN", "loss_streak")


def symbol_guard(d75: D75Exporter) -> None:
    d75.risk_guard.set_symbol_risk(
        "ETH", exposure_ratio=0.55, drawdown_ratio=0.25, volatility_ratio=0.12
    )
    d75.risk_guard.set_decision("SymbolGuard", "ETH", "BLOCK", "drawdown")


def global_exposure(d75: D75Exporter) -> None:
    d75.risk_guard.set_total_exposure(120_000)
    d75.risk_guard.set_cross_exchange_imbalance(0.6)
    d75.risk_guard.set_decision("GlobalGuard", "global", "BLOCK", "total_exposure")


def _scenario(name: str, summary: str, *steps: Step, loop_after: float | None = None) -> Scenario:
    return Scenario(name, summary, steps, loop_after)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _scenario(
            "calm",
            "everything healthy and tradable, no loss: clears every condition",
            Step(0, "all healthy", calm, NORMAL),
        ),
        _scenario(
            "rate_limit_squeeze",
            "RateLimiter: Binance order limit at 15% (180/1200) (P2)",
            Step(0, "Binance order 180/1200", rate_limit_squeeze),
        ),
        _scenario(
            "rate_limit_429",
            "RateLimiter: Binance answers HTTP 429 (P1)",
            Step(0, "5x 429", http_429_burst),
            Step(5, "5x 429", http_429_burst),
            Step(10, "5x 429", http_429_burst),
        ),
        _scenario(
            "exchange_health",
            "HealthMonitor: Upbit HEALTHY, DEGRADED, DOWN (orderbook stops), FROZEN, HEALTHY",
            Step(0, "Upbit HEALTHY", health("Upbit", "HEALTHY")),
            Step(
                20,
                "Upbit DEGRADED: slow (~1.25 s), 12.5% errors, no more orderbook updates",
                health("Upbit", "DEGRADED"),
                {
                    "traffic": traffic(latency=1.25, error_ratio=0.125, only="Upbit"),
                    "orderbooks": orderbooks(except_exchange="Upbit"),
                },
            ),
            Step(
                40,
                "Upbit DOWN, failover to Binance",
                _do(
                    health("Upbit", "DOWN"),
                    failover("Upbit", "Binance"),
                    decision("ExchangeGuard", "Upbit", "BLOCK", "health"),
                ),
            ),
            Step(60, "Upbit FROZEN", health("Upbit", "FROZEN")),
            Step(
                120,
                "Upbit HEALTHY, fast, orderbook updates again",
                _do(
                    # The book is fresh when the status says HEALTHY, as on a real recovery:
                    # otherwise the scrape between them has FROZEN resolved (its inhibition
                    # lifted) while the book still reads stale, and a stale page goes out.
                    orderbooks(),
                    health("Upbit", "HEALTHY"),
                    failover("Upbit", None),
                    decision("ExchangeGuard", "Upbit", "ALLOW"),
                ),
                {"traffic": traffic(), "orderbooks": orderbooks()},
            ),
        ),
        _scenario(
            "exchange_latency",
            "HealthMonitor: Upbit REST latency ~1.25 s for 6 min",
            Step(
                0, "Upbit slow", lambda d75: None, {"traffic": traffic(latency=1.25, only="Upbit")}
            ),
            Step(360, "Upbit fast again", lambda d75: None, {"traffic": traffic()}),
        ),
        _scenario(
            "exchange_errors",
            "HealthMonitor: Upbit error rate 12.5% for 2 min",
            Step(
                0,
                "Upbit erroring",
                lambda d75: None,
                {"traffic": traffic(error_ratio=0.125, only="Upbit")},
            ),
            Step(120, "Upbit fine again", lambda d75: None, {"traffic": traffic()}),
        ),
        _scenario(
            "orderbook_stale",
            "HealthMonitor: Upbit orderbook stops updating",
            Step(
                0,
                "Upbit orderbook frozen",
                lambda d75: None,
                {"orderbooks": orderbooks(except_exchange="Upbit")},
            ),
        ),
        _scenario(
            "route_score_low",
            "ArbRoute: score 42 (spread 50, health 30, fee 60, inventory 40), Binance DEGRADED",
            Step(0, "score 42, SKIP", route_score_low),
        ),
        _scenario(
            "all_routes_skip",
            "ArbUniverse: every route SKIP (for 5 min: P1)",
            Step(0, "all SKIP", all_routes_skip),
        ),
        _scenario(
            "route_score_plunge",
            "ArbRoute: Upbit-Binance-BTCKRW score 80 -> 52 in 10 s",
            Step(0, "score 80", score(ROUTE, 80)),
            Step(10, "score 52", score(ROUTE, 52)),
        ),
        _scenario(
            "imbalance",
            "CrossSync: BTC imbalance 0.65 (P2)",
            Step(0, "BTC imbalance 0.65", lambda d75: d75.cross_sync.set_imbalance("BTC", 0.65)),
        ),
        _scenario(
            "high_exposure",
            "CrossSync: BTC exposure $85,000, 85% of capital (P1)",
            Step(0, "BTC exposure 85%", high_exposure),
        ),
        _scenario(
            "rebalance_failures",
            "CrossSync: BTC rebalance failed 3 times in a row (P1)",
            Step(0, "3 failed rebalances", rebalance_failures),
        ),
        _scenario(
            "inventory_sync_timeout",
            "CrossSync: Upbit balance API timing out",
            Step(
                0, "Upbit sync failing", lambda d75: None, {"inventory": inventory(failing="Upbit")}
            ),
        ),
        _scenario(
            "exchange_guard",
            "RiskGuard tier 1: Upbit daily loss $12,000 > $10,000 (P1)",
            Step(0, "Upbit loss $12,000", exchange_guard),
        ),
        _scenario(
            "route_guard",
            "RiskGuard tier 2: 3-loss streak and 620 bps spread (P2)",
            Step(0, "loss streak 3, spread 620 bps", route_guard),
        ),
        _scenario(
            "symbol_guard",
            "RiskGuard tier 3: ETH exposure 55%, drawdown 25%, volatility 12%",
            Step(0, "ETH risk", symbol_guard),
        ),
        _scenario(
            "global_daily_loss",
            "RiskGuard tier 4: daily loss $55,000 > $50,000 (P0)",
            Step(0, "loss $55,000 / $50,000, portfolio $945,000", global_daily_loss),
        ),
        _scenario(
            "global_daily_loss_large",
            "RiskGuard tier 4: daily loss $72,000 > $50,000 (P0), other figures (a second engine)",
            Step(0, "loss $72,000 / $50,000, portfolio $928,000", global_daily_loss_large),
        ),
        _scenario(
            "global_exposure",
            "RiskGuard tier 4: total exposure $120,000, imbalance 0.6",
            Step(0, "exposure $120,000", global_exposure),
        ),
        _scenario(
            "demo",
            "make run's demo: calm, then global loss limit and Binance DEGRADED, repeating",
            Step(0, "calm", calm, NORMAL),
            Step(10, "global daily loss $55,000 / $50,000", global_daily_loss),
            Step(10, "Binance DEGRADED", health("Binance", "DEGRADED")),
            Step(130, "calm again", calm),
            loop_after=190,
        ),
    )
}
