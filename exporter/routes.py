"""Hooks for D75-4 ArbRoute and ArbUniverse (``arb_route.py``, ``arb_universe.py``)."""

from __future__ import annotations

from typing import Any

from exporter.labels import Children, LabelSet
from exporter.metrics import ROUTE_STATES, SCORE_COMPONENTS, D75Metrics
from exporter.safe import guarded


class RouteHooks:
    def __init__(self, metrics: D75Metrics, routes: LabelSet, exchanges: LabelSet) -> None:
        self._metrics = metrics
        self._routes = routes
        self._score = Children(metrics.route_score)
        self._component = Children(metrics.route_score_component)
        self._state = Children(metrics.route_state)
        self._exchange = Children(metrics.route_exchange)
        self._exchange_names = exchanges
        self._legs: dict[str, tuple[str, ...]] = {}
        self._components: dict[
            str, tuple[Any, ...]
        ] = {}  # route -> children in SCORE_COMPONENTS order
        errors = metrics.hook_errors
        self.set_score = guarded(self._set_score, errors, "routes.set_score")
        self.set_state = guarded(self._set_state, errors, "routes.set_state")
        self.set_universe = guarded(self._set_universe, errors, "routes.set_universe")
        self.set_exchanges = guarded(self._set_exchanges, errors, "routes.set_exchanges")

    def _set_score(
        self,
        route: str,
        score: float,
        *,
        spread: float | None = None,
        health: float | None = None,
        fee: float | None = None,
        inventory: float | None = None,
    ) -> None:
        """The route's RouteScore (0-100) and, if given, its components were recomputed."""
        name = self._routes(route)
        self._score(name).set(float(score))
        if spread is None and health is None and fee is None and inventory is None:
            return
        children = self._components.get(name)
        if children is None:
            children = self._components[name] = tuple(
                self._component(name, c) for c in SCORE_COMPONENTS
            )
        for child, value in zip(children, (spread, health, fee, inventory), strict=True):
            if value is not None:
                child.set(value)

    def _set_state(self, route: str, state: str) -> None:
        """The route is now TRADE or SKIP."""
        state = state.upper()
        if state not in ROUTE_STATES:
            raise ValueError(f"unknown route state {state!r}")
        name = self._routes(route)
        for known in ROUTE_STATES:
            self._state(name, known).set(1 if known == state else 0)

    def _set_universe(self, routes: int, skipped: int) -> None:
        """The ArbUniverse holds ``routes`` routes, ``skipped`` of them in SKIP."""
        self._metrics.universe_routes.set(routes)
        self._metrics.universe_skipped.set(skipped)

    def _set_exchanges(self, route: str, *exchanges: str) -> None:
        """The route trades on these exchanges (a low score's Reason names the unhealthy one)."""
        name = self._routes(route)
        legs = tuple(self._exchange_names(e) for e in exchanges)
        for old in self._legs.get(name, ()):
            if old not in legs:
                self._exchange(name, old).set(0)
        for leg in legs:
            self._exchange(name, leg).set(1)
        self._legs[name] = legs
