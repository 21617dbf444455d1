"""Deterministic scenarios: timed steps that call the exporter's hooks like D75 would.

Times are in scenario seconds; the player divides them by ``--speed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from exporter.facade import D75Exporter

Action = Callable[[D75Exporter], None]


@dataclass(frozen=True)
class Step:
    at: float  # seconds from the start of the scenario
    note: str
    apply: Action


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    steps: tuple[Step, ...]
    loop_after: float | None = None  # restart this many seconds after the start, if set


START_OF_DAY_USD = 1_000_000.0


def calm(d75: D75Exporter) -> None:
    """Every exchange healthy, every route tradable, no loss."""
    for exchange in d75.settings.exchanges:
        d75.exchange_health.set_status(exchange, "HEALTHY")
    for route in d75.settings.routes:
        d75.routes.set_score(route, 80)
    d75.risk_guard.set_global_daily_loss(0)
    d75.risk_guard.set_portfolio(START_OF_DAY_USD, START_OF_DAY_USD)


def global_daily_loss(d75: D75Exporter) -> None:
    """The seed's example: $55,000 lost of a $50,000 limit, portfolio $945,000 of $1,000,000."""
    d75.risk_guard.set_global_daily_loss(55_000)
    d75.risk_guard.set_portfolio(945_000, START_OF_DAY_USD)


def _health(exchange: str, status: str) -> Action:
    def apply(d75: D75Exporter) -> None:
        d75.exchange_health.set_status(exchange, status)

    return apply


def _score(route: str, score: float) -> Action:
    def apply(d75: D75Exporter) -> None:
        d75.routes.set_score(route, score)

    return apply


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "calm",
            "everything healthy, no loss: clears every condition",
            (Step(0, "all healthy", calm),),
        ),
        Scenario(
            "global_daily_loss",
            "GlobalGuard: daily loss $55,000 over the $50,000 limit (P0)",
            (Step(0, "loss $55,000 / $50,000, portfolio $945,000", global_daily_loss),),
        ),
        Scenario(
            "exchange_health",
            "Upbit HEALTHY -> DEGRADED -> DOWN -> FROZEN -> HEALTHY",
            (
                Step(0, "Upbit HEALTHY", _health("Upbit", "HEALTHY")),
                Step(20, "Upbit DEGRADED", _health("Upbit", "DEGRADED")),
                Step(40, "Upbit DOWN", _health("Upbit", "DOWN")),
                Step(60, "Upbit FROZEN", _health("Upbit", "FROZEN")),
                Step(90, "Upbit HEALTHY", _health("Upbit", "HEALTHY")),
            ),
        ),
        Scenario(
            "route_score_plunge",
            "Upbit-Binance-BTCKRW score 80 -> 52 within seconds (P3)",
            (
                Step(0, "score 80", _score("Upbit-Binance-BTCKRW", 80)),
                Step(10, "score 52", _score("Upbit-Binance-BTCKRW", 52)),
            ),
        ),
        Scenario(
            "demo",
            "make run's demo: calm, then global loss limit and Binance DEGRADED, repeating",
            (
                Step(0, "calm", calm),
                Step(10, "global daily loss $55,000 / $50,000", global_daily_loss),
                Step(10, "Binance DEGRADED", _health("Binance", "DEGRADED")),
                Step(130, "calm again", calm),
            ),
            loop_after=190,
        ),
    )
}
