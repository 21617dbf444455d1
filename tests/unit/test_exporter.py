"""The exporter: hooks set the metrics rules read, never raise, keep labels bounded, and the
simulator serves them (promtool's lint of a scrape: tests/rules/test_exporter_scrape.py)."""

from __future__ import annotations

import itertools
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import make_server

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from exporter import D75Exporter
from exporter.config import ExporterSettings
from exporter.simulator.__main__ import QuietHandler, ThreadingServer, make_app
from exporter.simulator.player import TICK_SECONDS, Player
from exporter.simulator.scenarios import SCENARIOS, Scenario, Step
from tests.support.ports import free_port


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


def test_global_loss_and_its_threshold_are_exported(d75: D75Exporter) -> None:
    d75.risk_guard.set_global_daily_loss(55_000)
    assert value(d75, "d75_riskguard_global_daily_loss_usd") == 55_000
    assert value(d75, "d75_alert_threshold", threshold="global_daily_loss_usd") == 50_000


def test_a_bad_call_is_counted_not_raised(d75: D75Exporter) -> None:
    d75.exchange_health.set_status("Upbit", "ON_FIRE")  # must not raise into the engine
    d75.routes.set_score("Upbit-Binance-BTCKRW", "not a number")  # type: ignore[arg-type]
    assert value(d75, "d75_exporter_hook_errors_total", hook="exchange_health.set_status") == 1
    assert value(d75, "d75_exporter_hook_errors_total", hook="routes.set_score") == 1
    d75.send_alert("P9", "CrossSync", "Bad severity", "x")  # must not raise either
    assert value(d75, "d75_exporter_hook_errors_total", hook="send_alert") == 1


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
        server_class=ThreadingServer,
        handler_class=QuietHandler,
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


def test_a_scenario_is_started_over_http(served: str) -> None:
    request = urllib.request.Request(f"{served}/scenario/global_daily_loss", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 202
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{served}/metrics", timeout=5) as response:
            if b"d75_riskguard_global_daily_loss_usd 55000.0" in response.read():
                return
        time.sleep(0.05)
    raise AssertionError("the scenario did not set the global daily loss")


def test_unknown_scenario_is_a_404(served: str) -> None:
    request = urllib.request.Request(f"{served}/scenario/nope", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 404
    caught.value.close()


def test_every_labelled_counter_is_born_at_zero(d75: D75Exporter) -> None:
    """The first event must be an increase from 0, or rules like increase(...) > 0 miss it."""
    for exchange in ("Upbit", "Binance", "other"):
        for category in ("order", "market_data", "account"):
            assert (
                value(
                    d75,
                    "d75_ratelimit_http_429_responses_total",
                    exchange=exchange,
                    category=category,
                )
                == 0
            )
        for name in (
            "d75_exchange_rest_requests_total",
            "d75_exchange_rest_request_errors_total",
            "d75_crosssync_inventory_sync_failures_total",
            "d75_exchange_rest_request_duration_seconds_count",
        ):
            assert value(d75, name, exchange=exchange) == 0, (name, exchange)
        assert (
            value(
                d75,
                "d75_exchange_health_transitions_total",
                exchange=exchange,
                from_status="DOWN",
                to_status="FROZEN",
            )
            == 0
        )
    d75.rate_limiter.http_429("Binance", "order")
    assert (
        value(d75, "d75_ratelimit_http_429_responses_total", exchange="Binance", category="order")
        == 1
    )


def test_a_refused_thresholds_file_is_exported_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.yml"
    path.write_text("global_daily_loss_usd: 50000\n")
    d75 = D75Exporter(ExporterSettings(thresholds_file=path), CollectorRegistry())
    ok = {"file": str(path), "reason": ""}
    assert d75.registry.get_sample_value("d75_exporter_threshold_file_refused", ok) == 0

    path.write_text("global_daily_loss_usd: 50k\n")
    os.utime(path, (time.time() + 5, time.time() + 5))  # a new modification time
    reason = "global_daily_loss_usd: must be a number, got '50k'"
    refused = {"file": str(path), "reason": reason}
    assert d75.registry.get_sample_value("d75_exporter_threshold_file_refused", refused) == 1
    assert d75.thresholds.values["global_daily_loss_usd"] == 50_000  # the old value stays

    path.write_text("global_daily_loss_usd: 40000\n")
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert d75.registry.get_sample_value("d75_exporter_threshold_file_refused", ok) == 0
    assert d75.registry.get_sample_value("d75_exporter_threshold_file_refused", refused) is None
    assert d75.thresholds.values["global_daily_loss_usd"] == 40_000


def test_a_new_scenario_starts_at_once_and_the_books_keep_ticking(
    d75: D75Exporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scenarios played back to back (as the drills do) while one is applying its step: the
    second starts within the step's time, and the orderbook ticker never pauses (a pause of
    5 s is a stale book on every exchange: alerts nobody caused)."""
    applying = threading.Event()
    ticks: list[float] = []

    def slow_step(_: D75Exporter) -> None:
        applying.set()
        time.sleep(0.3)

    ticking = Step(0, "tick", lambda _: None, {"probe": lambda _: ticks.append(time.monotonic())})
    monkeypatch.setitem(SCENARIOS, "probe", Scenario("probe", "", (ticking,)))
    monkeypatch.setitem(SCENARIOS, "slow", Scenario("slow", "", (Step(0, "slow", slow_step),)))
    player = Player(d75)
    try:
        player.play("probe")
        player.play("slow")
        assert applying.wait(5)
        started = time.monotonic()
        player.play("calm")  # while "slow" is inside its step
        assert time.monotonic() - started < 2.0
        time.sleep(TICK_SECONDS * 4)
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        assert ticks and max(gaps) < 1.0
    finally:
        player.stop()
