"""A scrape of the exporter, after every step of every simulator scenario, passes promtool's
lint and holds the metrics the rules read."""

from __future__ import annotations

import subprocess

from prometheus_client import CollectorRegistry, generate_latest

from exporter import D75Exporter
from exporter.config import ExporterSettings
from exporter.simulator.player import Player
from exporter.simulator.scenarios import SCENARIOS
from tests.support import binary


def test_every_scenario_step_runs_cleanly_and_the_scrape_passes_promtool() -> None:
    settings = ExporterSettings(exchanges=("Upbit", "Binance"), routes=("Upbit-Binance-BTCKRW",))
    d75 = D75Exporter(settings, CollectorRegistry())
    player = Player(d75)
    try:
        for scenario in SCENARIOS.values():
            for step in scenario.steps:
                player.apply(step)
                for tick in step.tickers.values():
                    if tick is not None:
                        tick(d75)
    finally:
        player.stop()
    errors = [s for s in d75.registry.collect() if s.name == "d75_exporter_hook_errors"]
    assert all(
        sample.value == 0
        for family in errors
        for sample in family.samples
        if sample.name.endswith("_total")
    ), "a scenario misused a hook"
    scrape = generate_latest(d75.registry)  # what the simulator's /metrics serves
    result = subprocess.run(
        [binary("promtool"), "check", "metrics"],
        input=scrape,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == ""
    assert result.stderr.decode().strip() == ""
    for name in (
        b"d75_ratelimit_http_429_responses_total",
        b"d75_exchange_health_transitions_total",
        b"d75_exchange_rest_request_duration_seconds_bucket",
        b"d75_route_state",
        b"d75_universe_routes_skipped",
        b"d75_crosssync_inventory_sync_failures_total",
        b"d75_riskguard_decision_reason",
        b"d75_riskguard_symbol_drawdown_ratio",
    ):
        assert name + b"{" in scrape or name + b" " in scrape, name
