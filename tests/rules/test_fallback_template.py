"""The message Alertmanager sends by itself when the receiver is down (d76-fallback), rendered
by the real amtool: the lines the receiver's page carries, escaped for Telegram's HTML mode."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support import binary

TEMPLATES = Path(__file__).resolve().parents[2] / "alertmanager" / "templates" / "*.tmpl"
ANNOTATIONS = {
    "summary": "GlobalGuard BLOCK",
    "description": "Tier: GlobalGuard\nDaily Loss: $55,000 / $50,000 (limit)",
    "metrics": "Metrics:\n  - Exposure: <85% & rising>",
    "action": "Trading HALTED until next day",
    "risk": "Risk snapshot:\n  - Total Exposure: $120,000 (all symbols)",
}


def _render(status: str, tmp_path: Path) -> str:
    alert = {
        "status": status,
        "labels": {"alertname": "GlobalGuardDailyLossLimit", "severity": "P0"},
        "annotations": ANNOTATIONS,
        "startsAt": "2026-11-24T03:30:37Z",
    }
    data = {
        "receiver": "d76-fallback",
        "status": status,
        "alerts": [alert],
        "groupLabels": {"alertname": "GlobalGuardDailyLossLimit"},
        "commonLabels": alert["labels"],
        "commonAnnotations": ANNOTATIONS,
        "externalURL": "http://127.0.0.1:9093",
    }
    path = tmp_path / f"{status}.json"
    path.write_text(json.dumps(data))
    result = subprocess.run(
        [
            binary("amtool"),
            "template",
            "render",
            f"--template.glob={TEMPLATES}",
            '--template.text={{ template "d76.telegram.fallback" . }}',
            f"--template.data={path}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_firing_fallback_page_has_the_metrics_and_the_action(tmp_path: Path) -> None:
    text = _render("firing", tmp_path)
    assert text.startswith("🔴 <b>[P0] GlobalGuard BLOCK</b>\nTier: GlobalGuard\n")
    assert (
        "Daily Loss: $55,000 / $50,000 (limit)\nMetrics:\n  - Exposure: &lt;85% &amp; rising&gt;\n"
        in text
    )
    assert "Action: Trading HALTED until next day\nRisk snapshot:\n  - Total Exposure: $120" in text
    assert "sent by Alertmanager directly" in text


def test_a_resolved_fallback_message_drops_the_action(tmp_path: Path) -> None:
    text = _render("resolved", tmp_path)
    assert text.startswith("✅ <b>[P0] RESOLVED: GlobalGuard BLOCK</b>")
    assert "Metrics:" in text
    assert "Action:" not in text
    assert "Metrics:\n  - Exposure: &lt;85% &amp; rising&gt;\nRisk snapshot:\n" in text
