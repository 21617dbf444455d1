"""A small mutation check of the promtool tests: one-step changes to a copy of the rules (a
comparison made inclusive or strict, a `for:` one interval shorter, a threshold name swapped,
a severity changed) must each make `promtool test rules` fail. A mutation that still passes
means the boundary it changes is not tested.

The sample covers every kind of change and every rules file; each runs one rules file's test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO, binary

# (rules file, alert, text in that alert's block, its replacement)
MUTATIONS: list[tuple[str, str, str, str]] = [
    # comparisons: at the threshold must not fire (strict), or must (inclusive)
    ("rate_limiter", "RateLimitLow", "< on(job", "<= on(job"),
    ("exchange_health", "ExchangeOrderbookStale", "> on(job", ">= on(job"),
    ("exchange_health", "ExchangeErrorRateHigh", "> on(job", ">= on(job"),
    ("exchange_health", "ExchangeRestLatencyHigh", "> on(job", ">= on(job"),
    ("arb_route", "ArbRouteScoreLow", "< on(job", "<= on(job"),
    ("arb_route", "ArbUniverseAllRoutesSkipped", ">= d75_universe_routes", "> d75_universe_routes"),
    ("arb_route", "ArbRouteScorePlunge", "<= on(job", "< on(job"),
    ("cross_sync", "CrossSyncImbalanceHigh", "> on(job", ">= on(job"),
    ("cross_sync", "CrossSyncRebalanceFailing", ">= on(job", "> on(job"),
    ("cross_sync", "CrossSyncInventoryStale", "> on(job", ">= on(job"),
    ("risk_guard", "GlobalGuardDailyLossLimit", "> on(job", ">= on(job"),
    ("risk_guard", "ExchangeGuardDailyLoss", "> on(job", ">= on(job"),
    ("risk_guard", "RouteGuardLossStreak", ">= on(job", "> on(job"),
    ("risk_guard", "SymbolGuardDrawdown", "> on(job", ">= on(job"),
    ("d76_self", "D76DeliveryStuck", "> 300", ">= 300"),
    ("d76_self", "D76AlertStorm", "> 50", ">= 50"),
    ("rate_limiter", "RateLimitExceeded", "[1m]) > 0", "[1m]) >= 0"),
    # durations: one evaluation (or scrape) interval shorter must fire too early
    ("exchange_health", "ExchangeErrorRateHigh", "for: 1m", "for: 59s"),
    ("exchange_health", "ExchangeRestLatencyHigh", "for: 5m", "for: 4m59s"),
    ("arb_route", "ArbUniverseAllRoutesSkipped", "for: 5m", "for: 4m59s"),
    ("cross_sync", "CrossSyncInventorySyncFailing", "for: 1m", "for: 59s"),
    ("pipeline", "D75ExporterDown", "for: 15s", "for: 14s"),
    ("pipeline", "D75ExporterAbsent", "for: 1m", "for: 59s"),
    ("pipeline", "D76ReceiverDown", "for: 30s", "for: 25s"),
    ("d76_self", "D76DispatcherDown", "for: 30s", "for: 25s"),
    ("d76_self", "D76NotificationsFailing", "for: 5m", "for: 4m55s"),
    ("d76_self", "D76DeliveryStuck", "for: 1m", "for: 55s"),
    # threshold names swapped
    ("rate_limiter", "RateLimitLow", '"ratelimit_remaining_ratio"', '"exchange_error_ratio"'),
    ("exchange_health", "ExchangeErrorRateHigh", '"exchange_error_ratio"', '"route_score_min"'),
    (
        "cross_sync",
        "CrossSyncExposureHigh",
        '"crosssync_exposure_ratio"',
        '"crosssync_imbalance_ratio"',
    ),
    (
        "risk_guard",
        "GlobalGuardDailyLossLimit",
        '"global_daily_loss_usd"',
        '"exchange_daily_loss_usd"',
    ),
    ("inputs", "D75AlertThresholdMissing", '"global_daily_loss_usd"', '"total_exposure_usd"'),
    # severities changed
    ("exchange_health", "ExchangeHealthFrozen", "severity: P0", "severity: P1"),
    ("rate_limiter", "RateLimitExceeded", "severity: P1", "severity: P2"),
    ("arb_route", "ArbRouteScorePlunge", "severity: P3", "severity: P2"),
    ("cross_sync", "CrossSyncRebalanceFailing", "severity: P1", "severity: P2"),
    ("risk_guard", "GlobalGuardDailyLossLimit", "severity: P0", "severity: P1"),
    ("pipeline", "D76ReceiverDown", "severity: P1", "severity: P2"),
    ("d76_self", "D76DatabaseDown", "severity: P1", "severity: P0"),
    ("inputs", "D75ThresholdFileRefused", "severity: P2", "severity: P3"),
]


def _mutate(text: str, alert: str, old: str, new: str) -> str:
    start = text.index(f"- alert: {alert}\n")
    end = text.find("- alert: ", start + 1)
    end = len(text) if end == -1 else end
    block = text[start:end]
    assert block.count(old) >= 1, f"{alert}: {old!r} not found; update the mutation list"
    return text[:start] + block.replace(old, new, 1) + text[end:]


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rules-copy")
    for folder in ("rules", "tests"):
        shutil.copytree(REPO / "prometheus" / folder, root / folder)
    return root


def _promtool_test(root: Path, stem: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), "test", "rules", str(root / "tests" / f"{stem}_test.yml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_sample_covers_every_rules_file_and_kind() -> None:
    files = {p.stem for p in (REPO / "prometheus" / "rules").glob("*.yml")}
    assert {m[0] for m in MUTATIONS} == files
    kinds = {
        "comparison": any(m[2][0] in "<>" for m in MUTATIONS),
        "for": any(m[2].startswith("for:") for m in MUTATIONS),
        "threshold": any(m[2].startswith('"') for m in MUTATIONS),
        "severity": any(m[2].startswith("severity:") for m in MUTATIONS),
    }
    assert all(kinds.values()), kinds


@pytest.mark.parametrize(
    ("stem", "alert", "old", "new"), MUTATIONS, ids=[f"{m[1]}:{m[2]}->{m[3]}" for m in MUTATIONS]
)
def test_promtool_catches_the_mutation(
    copy: Path, stem: str, alert: str, old: str, new: str
) -> None:
    path = copy / "rules" / f"{stem}.yml"
    original = (REPO / "prometheus" / "rules" / f"{stem}.yml").read_text()
    path.write_text(_mutate(original, alert, old, new))
    try:
        # The mutant is a valid rules file: a failure below is a test catching it, not a
        # file promtool could not read.
        check = subprocess.run(
            [binary("promtool"), "check", "rules", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        result = _promtool_test(copy, stem)
    finally:
        path.write_text(original)
    assert check.returncode == 0, f"the mutant does not parse: {check.stdout}{check.stderr}"
    assert result.returncode != 0, f"promtool tests still pass with {alert}: {old!r} -> {new!r}"
    output = result.stdout + result.stderr
    assert "FAILED" in output and ("exp:" in output or "expected" in output), output[-500:]
