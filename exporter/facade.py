"""One object that holds the metrics, every module's hooks and ``send_alert()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry

from exporter import config
from exporter.alerts import AlertSender
from exporter.cross_sync import CrossSyncHooks
from exporter.exchange_health import ExchangeHealthHooks
from exporter.labels import LabelSet
from exporter.metrics import D75Metrics
from exporter.rate_limiter import RateLimiterHooks
from exporter.risk_guard import RiskGuardHooks
from exporter.routes import RouteHooks
from exporter.safe import guarded
from exporter.thresholds import ThresholdCollector


class D75Exporter:
    """The D75 side of d76-alerting.

    ``rate_limiter``, ``exchange_health``, ``routes``, ``cross_sync`` and ``risk_guard`` hold
    the hooks of the seed's modules; ``send_alert``/``resolve_alert`` push one-off events to
    Alertmanager. Every call is cheap, never blocks on I/O and never raises.
    """

    def __init__(
        self, settings: config.ExporterSettings, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.metrics = m = D75Metrics(registry)
        unknown = m.unknown_label_values
        exchanges = LabelSet("exchange", settings.exchanges, unknown)
        categories = LabelSet("category", settings.categories, unknown)
        routes = LabelSet("route", settings.routes, unknown)
        symbols = LabelSet("symbol", settings.symbols, unknown)
        scopes = LabelSet(
            "scope", (*settings.exchanges, *settings.routes, *settings.symbols, "global"), unknown
        )
        self.rate_limiter = RateLimiterHooks(m, exchanges, categories)
        self.exchange_health = ExchangeHealthHooks(m, exchanges)
        self.routes = RouteHooks(m, routes, exchanges)
        self.cross_sync = CrossSyncHooks(m, symbols, exchanges)
        self.risk_guard = RiskGuardHooks(m, exchanges, routes, symbols, scopes)
        self.thresholds = ThresholdCollector(settings.thresholds_file, m.threshold_reload_errors)
        registry.register(self.thresholds)
        self._sender = AlertSender(settings.send_alert, m)
        self._send = guarded(self._send_alert, m.hook_errors, "send_alert")
        self._resolve = guarded(self._resolve_alert, m.hook_errors, "resolve_alert")

    @classmethod
    def from_config(cls, registry: CollectorRegistry = REGISTRY) -> D75Exporter:
        """Settings from config/exporter.yml (D76_CONFIG_DIR, D76_ENV, EXPORTER_PORT)."""
        return cls(config.load(), registry)

    def send_alert(
        self,
        severity: str,
        source: str,
        title: str,
        message: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        alertname: str | None = None,
    ) -> None:
        """Raise an alert now (the seed's ``AlertManager.send_alert``); returns at once.

        ``metadata`` keys exchange, category, route, symbol and tier become labels (for
        routing, grouping and inhibition), ``action`` becomes the action annotation, and the
        whole mapping is kept as the ``metadata`` annotation.
        """
        self._send(severity, source, title, message, metadata, alertname=alertname)

    def resolve_alert(
        self,
        severity: str,
        source: str,
        title: str,
        message: str = "",
        metadata: Mapping[str, Any] | None = None,
        *,
        alertname: str | None = None,
    ) -> None:
        """End an alert raised by ``send_alert`` with the same source, title and scope."""
        self._resolve(severity, source, title, message, metadata, alertname=alertname)

    def _send_alert(self, *args: Any, **kwargs: Any) -> None:
        self._sender.send(self._sender.build(*args, **kwargs))

    def _resolve_alert(self, *args: Any, **kwargs: Any) -> None:
        self._sender.resolve(self._sender.build(*args, **kwargs))

    def close(self, timeout: float = 5.0) -> None:
        """Flush queued send_alert() events (at most ``timeout`` seconds) and stop sending."""
        self._sender.close(timeout)
