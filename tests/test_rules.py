"""Prometheus rules and Alertmanager routing, checked by the real promtool and amtool."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, binary

RULES = sorted((REPO / "prometheus" / "rules").glob("*.yml"))
AM_CONFIG = REPO / "alertmanager" / "alertmanager.yml"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def alerts_in(path: Path) -> list[dict[str, Any]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_prometheus_config_and_rules_are_valid() -> None:
    result = run(binary("promtool"), "check", "config", str(REPO / "prometheus" / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rules", RULES, ids=lambda p: p.stem)
def test_each_rules_file_has_a_passing_promtool_test_file(rules: Path) -> None:
    test_file = REPO / "prometheus" / "tests" / f"{rules.stem}_test.yml"
    assert test_file.is_file(), f"{rules.name} has no promtool test file {test_file.name}"
    result = run(binary("promtool"), "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rules", RULES, ids=lambda p: p.stem)
def test_every_alert_is_labelled_annotated_and_has_a_runbook(rules: Path) -> None:
    for rule in alerts_in(rules):
        name = rule["alert"]
        labels = rule.get("labels", {})
        annotations = rule.get("annotations", {})
        assert isinstance(labels, dict) and isinstance(annotations, dict)
        expected = ("none",) if name == "Watchdog" else ("P0", "P1", "P2", "P3")
        assert labels.get("severity") in expected, name
        assert labels.get("source"), name
        for key in ("summary", "description", "action", "runbook_url"):
            assert annotations.get(key), f"{name}: annotation {key} missing"
        assert annotations["runbook_url"] == f"docs/runbooks/{name}.md"
        assert (REPO / "docs" / "runbooks" / f"{name}.md").is_file(), f"{name}: no runbook"


def test_every_severity_has_a_rule() -> None:
    severities = {rule["labels"]["severity"] for path in RULES for rule in alerts_in(path)}
    assert severities >= {"P0", "P1", "P2", "P3"}


def test_alertmanager_config_is_valid() -> None:
    result = run(binary("amtool"), "check-config", str(AM_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=P0", "alertname=GlobalGuardDailyLossLimit"], "d76-p0"),
        (["severity=P1", "alertname=ExchangeHealthDown", "exchange=Upbit"], "d76-p1"),
        (["severity=P2", "alertname=ExchangeHealthDegraded", "exchange=Upbit"], "d76-p2"),
        (["severity=P3", "alertname=ArbRouteScorePlunge"], "d76-p3"),
        (["alertname=SomethingWithoutSeverity"], "d76-p3"),
        (["alertname=Watchdog", "severity=none"], "d76-watchdog"),
        (["alertname=D76ReceiverDown", "severity=P1"], "d76-fallback,d76-p1"),
        (["alertname=D76DatabaseDown", "severity=P1"], "d76-fallback,d76-p1"),
    ],
)
def test_routing_by_severity(labels: list[str], receiver: str) -> None:
    result = run(
        binary("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={AM_CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_p0_is_sent_without_batching_delay() -> None:
    config = yaml.safe_load(AM_CONFIG.read_text())
    p0 = next(r for r in config["route"]["routes"] if r["matchers"] == ['severity="P0"'])
    assert p0["group_wait"] == "0s"


def test_the_runbook_index_lists_every_alert() -> None:
    index = (REPO / "docs" / "RUNBOOK.md").read_text()
    for path in RULES:
        for rule in alerts_in(path):
            assert f"[{rule['alert']}](runbooks/{rule['alert']}.md)" in index, rule["alert"]
