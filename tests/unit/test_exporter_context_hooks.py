"""The hooks that give a message its context (Previous:, Failover to, the weakest score's
exchange, the heavy side, the rebalance direction): one value at a time, bounded labels, and
nothing left standing once D75 says it is over."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from exporter import D75Exporter
from exporter.config import ExporterSettings


def exporter() -> D75Exporter:
    settings = ExporterSettings(exchanges=("Upbit", "Binance", "Bithumb"), symbols=("BTC",))
    return D75Exporter(settings, registry=CollectorRegistry())


def value(d75: D75Exporter, name: str, **labels: str) -> float | None:
    return d75.registry.get_sample_value(name, labels)


def test_previous_status_is_the_one_before_the_last_change() -> None:
    d75 = exporter()
    d75.exchange_health.set_status("Upbit", "HEALTHY")
    assert (
        value(d75, "d75_exchange_health_previous_status", exchange="Upbit", status="HEALTHY")
        is None
    )
    d75.exchange_health.set_status("Upbit", "DEGRADED")
    d75.exchange_health.set_status("Upbit", "DOWN")
    d75.exchange_health.set_status("Upbit", "DOWN")  # a repeat is not a change
    previous = {
        s: value(d75, "d75_exchange_health_previous_status", exchange="Upbit", status=s)
        for s in ("HEALTHY", "DEGRADED", "DOWN")
    }
    assert previous == {"HEALTHY": 0, "DEGRADED": 1, "DOWN": 0}


def test_one_failover_target_at_a_time_and_none_clears_it() -> None:
    d75 = exporter()
    d75.exchange_health.set_failover("Upbit", "Binance")
    d75.exchange_health.set_failover("Upbit", "Bithumb")
    target = "d75_exchange_failover_target"
    assert value(d75, target, exchange="Upbit", target="Binance") == 0
    assert value(d75, target, exchange="Upbit", target="Bithumb") == 1
    d75.exchange_health.set_failover("Upbit", None)
    assert value(d75, target, exchange="Upbit", target="Bithumb") == 0
    d75.exchange_health.set_failover("Upbit", "Kraken")  # not declared: bounded to "other"
    assert value(d75, target, exchange="Upbit", target="other") == 1


def test_a_routes_exchanges_follow_its_last_listing() -> None:
    d75 = exporter()
    d75.routes.set_exchanges("Upbit-Binance-BTCKRW", "Upbit", "Binance")
    d75.routes.set_exchanges("Upbit-Binance-BTCKRW", "Upbit", "Bithumb")
    legs = {
        e: value(d75, "d75_route_exchange", route="other", exchange=e)
        for e in ("Upbit", "Binance", "Bithumb")
    }
    assert legs == {"Upbit": 1, "Binance": 0, "Bithumb": 1}  # the route is not declared: other


def test_heavy_side_and_rebalance_direction_clear_when_over() -> None:
    d75 = exporter()
    d75.cross_sync.set_imbalance("BTC", 0.65, heavy="Upbit")
    d75.cross_sync.rebalance_started("BTC", buy="Binance", sell="Upbit")
    direction = "d75_crosssync_rebalance_direction"
    assert value(d75, "d75_crosssync_heavy_exchange", symbol="BTC", exchange="Upbit") == 1
    assert value(d75, direction, symbol="BTC", buy="Binance", sell="Upbit") == 1
    d75.cross_sync.set_imbalance("BTC", 0.05)  # balanced: no heavy side
    d75.cross_sync.rebalance_result("BTC", ok=True)
    assert value(d75, "d75_crosssync_heavy_exchange", symbol="BTC", exchange="Upbit") == 0
    assert value(d75, direction, symbol="BTC", buy="Binance", sell="Upbit") == 0
    assert value(d75, "d75_exporter_hook_errors_total", hook="cross_sync.set_imbalance") == 0
