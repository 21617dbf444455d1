"""Hooks for D75-3 RateLimiter (``arbitrage/infrastructure/rate_limiter.py``)."""

from __future__ import annotations

from exporter.labels import Children, LabelSet
from exporter.metrics import D75Metrics
from exporter.safe import guarded


class RateLimiterHooks:
    def __init__(self, metrics: D75Metrics, exchanges: LabelSet, categories: LabelSet) -> None:
        self._exchanges = exchanges
        self._categories = categories
        self._remaining = Children(metrics.ratelimit_remaining)
        self._limit = Children(metrics.ratelimit_limit)
        self._429 = Children(metrics.ratelimit_429)
        for exchange in exchanges.values:  # born at 0: the first 429 is an increase
            for category in categories.values:
                self._429(exchange, category)
        errors = metrics.hook_errors
        self.set_remaining = guarded(self._set_remaining, errors, "rate_limiter.set_remaining")
        self.http_429 = guarded(self._http_429, errors, "rate_limiter.http_429")

    def _set_remaining(self, exchange: str, category: str, remaining: float, limit: float) -> None:
        """Requests left in the current window, and the window's limit."""
        key = (self._exchanges(exchange), self._categories(category))
        self._remaining(*key).set(remaining)
        self._limit(*key).set(limit)

    def _http_429(self, exchange: str, category: str) -> None:
        """The exchange answered 429 Too Many Requests."""
        self._429(self._exchanges(exchange), self._categories(category)).inc()
