"""Hooks for D75-4 ArbRoute and ArbUniverse (``arb_route.py``, ``arb_universe.py``)."""

from __future__ import annotations

from exporter.labels import LabelSet
from exporter.metrics import D75Metrics
from exporter.safe import guarded


class RouteHooks:
    def __init__(self, metrics: D75Metrics, routes: LabelSet) -> None:
        self._metrics = metrics
        self._routes = routes
        self.set_score = guarded(self._set_score, metrics.hook_errors, "routes.set_score")

    def _set_score(self, route: str, score: float) -> None:
        """The route's RouteScore (0-100) was recomputed."""
        self._metrics.route_score.labels(self._routes(route)).set(score)
