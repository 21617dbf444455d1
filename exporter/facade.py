"""One object that holds the metrics and every module's hooks."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry

from exporter import config
from exporter.exchange_health import ExchangeHealthHooks
from exporter.labels import LabelSet
from exporter.metrics import D75Metrics
from exporter.risk_guard import RiskGuardHooks
from exporter.routes import RouteHooks


class D75Exporter:
    def __init__(
        self, settings: config.ExporterSettings, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.metrics = metrics = D75Metrics(registry)
        exchanges = LabelSet("exchange", settings.exchanges, metrics.unknown_label_values)
        routes = LabelSet("route", settings.routes, metrics.unknown_label_values)
        self.exchange_health = ExchangeHealthHooks(metrics, exchanges)
        self.routes = RouteHooks(metrics, routes)
        self.risk_guard = RiskGuardHooks(metrics)
        metrics.global_daily_loss_limit.set(settings.limits.global_daily_loss_usd)

    @classmethod
    def from_config(cls, registry: CollectorRegistry = REGISTRY) -> D75Exporter:
        return cls(config.load(), registry)
