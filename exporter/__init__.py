"""D75 instrumentation: hooks the engine calls, exported for Prometheus.

    from exporter import D75Exporter
    d75 = D75Exporter.from_config()          # or D75Exporter(settings, registry=...)
    d75.exchange_health.set_status("Upbit", "DOWN")
    d75.risk_guard.set_global_daily_loss(55_000)

Every hook is cheap, never blocks on I/O and never raises into the caller.
"""

from exporter.facade import D75Exporter

__all__ = ["D75Exporter"]
