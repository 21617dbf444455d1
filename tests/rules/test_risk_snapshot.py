"""The risk snapshot (issue 15): every P0 and P1 alert from RiskGuard and CrossSync carries the
engine's portfolio value, the day's realised PnL and the total exposure in its ``risk``
annotation. The values themselves are checked by promtool (prometheus/tests/); this checks the
rules' shape: which rules carry it, one text shared by both files, nothing said twice."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.support import REPO

RULES = REPO / "prometheus" / "rules"
SOURCES = {"RiskGuard", "CrossSync"}
# A snapshot line, and the description line that already says it (the day's realised PnL is
# minus the global daily loss).
SAID_AS = {
    "Portfolio Value": "Portfolio Value",
    "Daily PnL": "Daily Loss",
    "Total Exposure": "Total Exposure",
}
LINE_KEY = re.compile(r"^\s*(?:- )?([A-Z][\w ]*):")


def alerts(name: str) -> list[dict[str, Any]]:
    groups = yaml.safe_load((RULES / name).read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def all_alerts() -> list[dict[str, Any]]:
    return [rule for path in sorted(RULES.glob("*.yml")) for rule in alerts(path.name)]


def keys(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := LINE_KEY.match(line))]


def full_snapshot(name: str) -> str:
    """The text under the file's ``&risk_snapshot`` anchor (the full three-line snapshot)."""
    snapshots = {
        rule["annotations"]["risk"]
        for rule in alerts(name)
        if keys(rule["annotations"].get("risk", ""))[1:]
        == [
            "Portfolio Value",
            "Daily PnL",
            "Total Exposure",
        ]
    }
    assert len(snapshots) == 1, f"{name}: expected one full risk snapshot, found {len(snapshots)}"
    return snapshots.pop()


def test_p0_and_p1_riskguard_and_crosssync_alerts_carry_the_snapshot_and_no_other_does() -> None:
    for rule in all_alerts():
        labels = rule["labels"]
        wanted = labels.get("source") in SOURCES and labels.get("severity") in ("P0", "P1")
        has = "risk" in rule.get("annotations", {})
        assert has == wanted, (
            f"{rule['alert']}: risk annotation {'missing' if wanted else 'unexpected'}"
        )


def test_both_files_share_one_snapshot_text() -> None:
    assert full_snapshot("risk_guard.yml") == full_snapshot("cross_sync.yml")


def test_a_shortened_snapshot_keeps_the_full_ones_lines_and_repeats_nothing() -> None:
    full = full_snapshot("risk_guard.yml").splitlines()
    for rule in all_alerts():
        annotations = rule.get("annotations", {})
        risk = annotations.get("risk")
        if risk is None:
            continue
        lines = risk.splitlines()
        assert lines[0] == "Risk snapshot:", rule["alert"]
        assert all(line in full for line in lines), f"{rule['alert']}: a line not in the snapshot"
        assert len(lines) > 1, f"{rule['alert']}: an empty snapshot"
        said = keys(annotations["description"])
        for key in keys(risk)[1:]:
            # CrossSyncExposureHigh's "Total Exposure" is the symbol's (the seed's line); the
            # snapshot's is all symbols', and says so.
            if rule["alert"] == "CrossSyncExposureHigh" and key == "Total Exposure":
                continue
            assert key not in said, f"{rule['alert']}: {key} is in its description already"
        for key, told_as in SAID_AS.items():  # a line left out is one the description says
            if key not in keys(risk):
                assert told_as in said, f"{rule['alert']}: {key} left out, not in the description"
