"""Prometheus rules and Alertmanager routing, checked by the real promtool and amtool."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.thresholds import DEFAULTS
from tests.support import REPO, binary

RULES = sorted((REPO / "prometheus" / "rules").glob("*.yml"))
# alert_history.source: the seed's module names (RateLimiter, HealthMonitor, ...), plus
# Pipeline for d76-alerting's own alerts.
SOURCES = {"RateLimiter", "HealthMonitor", "ArbRoute", "CrossSync", "RiskGuard", "Pipeline"}
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
        base = "{{ $externalLabels.runbook_base_url }}"
        assert annotations["runbook_url"] == f"{base}/{name}", f"{name}: runbook_url"
        assert (REPO / "docs" / "runbooks" / f"{name}.md").is_file(), f"{name}: no runbook"
        assert labels["source"] in SOURCES, f"{name}: source {labels['source']}"
        for text in annotations.values():  # a query in an annotation reads the alert's engine
            for found in re.findall(r'printf "(\w+)\{([^"]*)\}', text):
                assert found[1].startswith("job=%q,instance=%q"), f"{name}: {found[0]} unmatched"
            assert 'query "' not in text, f"{name}: a query not matched to the engine"


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


def test_runbook_links_are_absolute_from_one_setting() -> None:
    prometheus = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    base = prometheus["global"]["external_labels"]["runbook_base_url"]
    assert base.startswith("http://") and base.endswith("/runbooks")
    drop = prometheus["alerting"]["alert_relabel_configs"]
    assert {"action": "labeldrop", "regex": "runbook_base_url"} in drop


def test_the_missing_threshold_alert_covers_every_threshold_and_names_its_rules() -> None:
    users: dict[str, set[str]] = {}
    for path in RULES:
        for rule in alerts_in(path):
            for name in re.findall(r'threshold="(\w+)"', rule["expr"]):
                users.setdefault(name, set()).add(rule["alert"])
    assert set(users) == set(DEFAULTS)
    missing = next(r for r in alerts_in(REPO / "prometheus" / "rules" / "inputs.yml"))
    terms = re.findall(r'"threshold", "(\w+)", "", ""\), "blind_rules", "([^"]+)"', missing["expr"])
    assert {name: set(rules.split(", ")) for name, rules in terms} == users


def test_every_duration_rule_says_its_meaning_in_its_runbook() -> None:
    for path in RULES:
        for rule in alerts_in(path):
            if rule.get("for", "0s") not in ("0s", "0"):
                text = (REPO / "docs" / "runbooks" / f"{rule['alert']}.md").read_text()
                assert "Fires when" in text and rule["for"] in text, rule["alert"]
