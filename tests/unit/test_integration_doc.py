"""The examples in docs/INTEGRATION.md run, in order, against a real exporter, and do what
the text says."""

from __future__ import annotations

import re
from typing import Any

from tests.support import REPO
from tests.support.ports import free_port

DOC = REPO / "docs" / "INTEGRATION.md"


def test_every_example_runs_and_sets_what_it_says() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert len(blocks) >= 7
    source = "\n".join(blocks)
    # send_alert() talks to an Alertmanager that is not there: it must still return at once.
    source = source.replace(
        "ExporterSettings(exchanges",
        f"ExporterSettings(send_alert={{'alertmanager_urls': ['http://127.0.0.1:{free_port()}'],"
        " 'attempts': 1}, exchanges",
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, str(DOC), "exec"), namespace)
    registry = namespace["registry"]

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("d75_ratelimit_remaining", exchange="Binance", category="order") == 180
    assert value("d75_exchange_health_status", exchange="Upbit", status="DOWN") == 1
    assert value("d75_exchange_health_previous_status", exchange="Upbit", status="DEGRADED") == 1
    assert value("d75_exchange_failover_target", exchange="Upbit", target="Binance") == 1
    assert value("d75_route_exchange", route="Upbit-Binance-BTCKRW", exchange="Binance") == 1
    assert value("d75_crosssync_heavy_exchange", symbol="BTC", exchange="Upbit") == 1
    # the failed rebalance after it ended the rebalance: no direction is left standing
    assert (
        value("d75_crosssync_rebalance_direction", symbol="BTC", buy="Binance", sell="Upbit") == 0
    )
    assert value("d75_exchange_rest_request_errors_total", exchange="Upbit") == 1
    assert value("d75_route_state", route="Upbit-Binance-BTCKRW", state="SKIP") == 1
    assert value("d75_crosssync_rebalance_consecutive_failures", symbol="BTC") == 1
    assert (
        value("d75_riskguard_decision", guard="GlobalGuard", scope="global", decision="BLOCK") == 1
    )
    assert value("d75_riskguard_symbol_drawdown_ratio", symbol="BTC") == 0.25
    assert value("d75_exporter_hook_errors_total", hook="send_alert") == 0
    errors = [
        s
        for f in registry.collect()
        if f.name == "d75_exporter_hook_errors"
        for s in f.samples
        if s.name.endswith("_total") and s.value
    ]
    assert errors == [], "an example misuses a hook"


def test_metrics_doc_is_up_to_date() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "scripts/metrics_doc.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
