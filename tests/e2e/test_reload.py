"""Editing a rules file or alertmanager.yml and reloading takes effect with no restart."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.procs import StartupError
from stack.stack import Stack, StackConfig
from tests.support import REPO
from tests.support.ports import free_ports

pytestmark = pytest.mark.e2e


@pytest.fixture
def editable_stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    shutil.copytree(REPO / "prometheus", tmp_path / "prometheus")
    shutil.copytree(REPO / "alertmanager", tmp_path / "alertmanager")
    stack = Stack(
        StackConfig(
            state_dir=tmp_path / "state",
            ports=free_ports(),
            scenario="calm",
            database_url=database_url,
            fast_timers=True,
            prometheus_dir=tmp_path / "prometheus",
            alertmanager_dir=tmp_path / "alertmanager",
        ),
        progress=lambda _: None,
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.load(response))


def test_a_changed_rule_and_route_are_live_after_reload(
    editable_stack: Stack, tmp_path: Path
) -> None:
    prom, am = editable_stack.url("prometheus"), editable_stack.url("alertmanager")
    rules = tmp_path / "prometheus" / "rules" / "arb_route.yml"
    # Score 80 is healthy; make the rule judge the score 40 points lower.
    text = rules.read_text()
    assert "          d75_route_score\n            < on(job, instance)" in text
    rules.write_text(
        text.replace(
            "          d75_route_score\n            < on(job, instance)",
            "          d75_route_score - 40\n            < on(job, instance)",
        )
    )
    am_config = tmp_path / "alertmanager" / "alertmanager.yml"
    am_config.write_text(
        am_config.read_text().replace("repeat_interval: 15m", "repeat_interval: 17m")
    )
    editable_stack.reload()

    deadline = time.monotonic() + 20
    firing = False
    while time.monotonic() < deadline and not firing:
        alerts = _get(f"{prom}/api/v1/alerts")["data"]["alerts"]  # type: ignore[index]
        firing = any(a["labels"]["alertname"] == "ArbRouteScoreLow" for a in alerts)
        time.sleep(0.3)
    assert firing, "the edited rule did not take effect"
    assert "17m" in str(_get(f"{am}/api/v2/status")["config"])


def test_an_invalid_edit_is_refused_and_the_running_config_stays(
    editable_stack: Stack, tmp_path: Path
) -> None:
    rules = tmp_path / "prometheus" / "rules" / "arb_route.yml"
    rules.write_text(rules.read_text().replace("expr: |", "expr: | (", 1))
    with pytest.raises(StartupError, match="prometheus refused the new configuration"):
        editable_stack.reload()
    groups = _get(f"{editable_stack.url('prometheus')}/api/v1/rules")["data"]["groups"]  # type: ignore[index]
    assert any(g["name"] == "arb_route" for g in groups)
