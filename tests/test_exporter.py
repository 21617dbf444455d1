"""The exporter: hooks set the metrics rules read, never raise, keep labels bounded, and a
scrape passes promtool's lint."""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from wsgiref.simple_server import make_server

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from exporter import D75Exporter
from exporter.config import ExporterSettings
from exporter.simulate import _QuietHandler, _ThreadingServer, make_app
from exporter.simulator.player import Player
from exporter.simulator.scenarios import SCENARIOS
from tests.conftest import binary, free_port


@pytest.fixture
def d75() -> D75Exporter:
    settings = ExporterSettings(exchanges=("Upbit", "Binance"), routes=("Upbit-Binance-BTCKRW",))
    return D75Exporter(settings, CollectorRegistry())


def value(d75: D75Exporter, name: str, **labels: str) -> float | None:
    return d75.registry.get_sample_value(name, labels)


def test_health_status_is_a_state_set(d75: D75Exporter) -> None:
    d75.exchange_health.set_status("Upbit", "DOWN")
    assert value(d75, "d75_exchange_health_status", exchange="Upbit", status="DOWN") == 1
    assert value(d75, "d75_exchange_health_status", exchange="Upbit", status="HEALTHY") == 0
    d75.exchange_health.set_status("Upbit", "healthy")
    assert value(d75, "d75_exchange_health_status", exchange="Upbit", status="DOWN") == 0
    assert value(d75, "d75_exchange_health_status", exchange="Upbit", status="HEALTHY") == 1


def test_global_loss_and_its_limit_are_exported(d75: D75Exporter) -> None:
    d75.risk_guard.set_global_daily_loss(55_000)
    assert value(d75, "d75_riskguard_global_daily_loss_usd") == 55_000
    assert value(d75, "d75_riskguard_global_daily_loss_limit_usd") == 50_000


def test_a_bad_call_is_counted_not_raised(d75: D75Exporter) -> None:
    d75.exchange_health.set_status("Upbit", "ON_FIRE")  # must not raise into the engine
    d75.routes.set_score("Upbit-Binance-BTCKRW", "not a number")  # type: ignore[arg-type]
    assert value(d75, "d75_exporter_hook_errors_total", hook="exchange_health.set_status") == 1
    assert value(d75, "d75_exporter_hook_errors_total", hook="routes.set_score") == 1


def test_undeclared_names_become_other(d75: D75Exporter) -> None:
    for i in range(100):
        d75.exchange_health.set_status(f"NewExchange{i}", "HEALTHY")
    assert value(d75, "d75_exchange_health_status", exchange="other", status="HEALTHY") == 1
    assert value(d75, "d75_exporter_unknown_label_values_total", label="exchange") == 100
    text = generate_latest(d75.registry).decode()
    assert "NewExchange" not in text


@pytest.fixture
def served(d75: D75Exporter) -> Iterator[str]:
    player = Player(d75, speed=1000)
    server = make_server(
        "127.0.0.1",
        free_port(),
        make_app(d75.registry, player),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        player.stop()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_every_scenario_plays_and_the_scrape_passes_promtool(served: str) -> None:
    for name in SCENARIOS:
        request = urllib.request.Request(f"{served}/scenario/{name}", method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 202
        time.sleep(0.3)  # at speed 1000 the longest scenario's steps take 0.13 s
    with urllib.request.urlopen(f"{served}/metrics", timeout=5) as response:
        scrape = response.read()
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


def test_unknown_scenario_is_a_404(served: str) -> None:
    request = urllib.request.Request(f"{served}/scenario/nope", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 404
    caught.value.close()
