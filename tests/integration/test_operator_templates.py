"""Operators' templates against real PostgreSQL and the Telegram stand-in: the dispatcher
delivers an alert in its operator's layout and the others in the default's; `python -m receiver
preview` prints exactly what it sent (an alert id from the database), each channel's message
for an Alertmanager payload file without touching any database, and one line for each thing
it refuses; serve, dispatch and check refuse a broken template naming its file and line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from receiver import config
from receiver.channels import registry
from receiver.delivery import build
from tests.support import REPO
from tests.support.database import query
from tests.support.delivery import fast_settings, queue_alerts
from tests.support.payloads import alert, payload
from tests.support.standins.telegram import TelegramStandin

OVERRIDE = """\
{% extends "default/telegram.html.j2" %}
{% block action %}
{{ super() -}}
☎️ Risk desk: {{ alert.labels.engine|default("d75") }}
{% endblock %}
"""
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens: a payload needs no database
CLEARED = (  # the process environment must not change what the receiver reads
    "DATABASE_URL", "RECEIVER_PORT", "ALERTMANAGER_URL", "RECEIVER_EXTERNAL_URL",
    "ALERTMANAGER_EXTERNAL_URL", "PROMETHEUS_EXTERNAL_URL", "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_CHAT_ID", "TELEGRAM_API_URL", "D76_RUNBOOKS_DIR",
)  # fmt: skip


def receiver(
    *args: str, database_url: str = NOWHERE, config_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(DATABASE_URL=database_url, D76_CONFIG_DIR=str(config_dir or REPO / "config"))
    return subprocess.run(
        [sys.executable, "-m", "receiver", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def sections(stdout: str) -> dict[str, str]:
    """Header line -> what follows it, for each channel's section of a preview."""
    found: dict[str, str] = {}
    for block in stdout.split("\n\n=== "):
        header, _, rest = block.removeprefix("=== ").partition("\n")
        found[header] = rest.rstrip("\n")
    return found


@pytest.fixture
def layouts(tmp_path: Path) -> Path:
    directory = tmp_path / "templates"
    (directory / "telegram").mkdir(parents=True)
    (directory / "telegram" / "GlobalGuardDailyLossLimit.html.j2").write_text(OVERRIDE)
    return directory


@pytest.fixture
def restore_registry() -> Iterator[None]:
    before = registry.templates_in_use()
    yield
    registry.use_templates(before)


def test_the_dispatcher_delivers_the_operators_layout_and_preview_prints_what_it_sent(
    database_url: str, telegram: TelegramStandin, layouts: Path, restore_registry: None
) -> None:
    settings = fast_settings(telegram).model_copy(
        update={
            "database_url": SecretStr(database_url),
            "templates": config.MessageTemplates(directory=layouts),
        }
    )
    queue_alerts(
        database_url,
        alert(labels={"engine": "d75-east"}),
        alert("RateLimitLow", severity="P2", source="RateLimiter", fingerprint="b2"),
    )
    dispatcher = build(settings, deadman=False)
    worker = threading.Thread(target=dispatcher.run, daemon=True)
    worker.start()
    try:
        page = telegram.wait_for(lambda m: "GlobalGuard BLOCK" in m.text, 15)
        other = telegram.wait_for(lambda m: "RateLimitLow" in m.text, 15)
    finally:
        dispatcher.stop()
        worker.join(timeout=10)
    lines = page.text.splitlines()
    assert lines[lines.index("Action: Trading HALTED until next day") + 1] == (
        "☎️ Risk desk: d75-east"
    ), "the operator's line, right under the Action"
    assert "Risk desk" not in other.text, "another alert keeps the default layout"

    (alert_id,) = query(
        database_url,
        "SELECT id FROM alert_history WHERE alertname = 'GlobalGuardDailyLossLimit'",
    )[0]
    shown = receiver(
        "preview", str(alert_id), "--templates", str(layouts), database_url=database_url
    )
    assert shown.returncode == 0, shown.stderr
    found = sections(shown.stdout)
    assert list(found) == [
        f"telegram · firing · GlobalGuardDailyLossLimit (alert {alert_id}) · "
        "telegram/GlobalGuardDailyLossLimit.html.j2 · buttons: ✅ Ack, 🔕 Silence 1h, "
        "🔇 Mute until resolved",
        f"slack · firing · GlobalGuardDailyLossLimit (alert {alert_id}) · default/slack.json.j2",
        f"email · firing · GlobalGuardDailyLossLimit (alert {alert_id}) · "
        "default/email.txt.j2, default/email.html.j2",
    ]
    telegram_text, slack_json, email = found.values()
    assert telegram_text == page.text, "exactly what the dispatcher sent"
    slack = json.loads(slack_json)
    assert slack["text"] == "🔴 [P0] GlobalGuard BLOCK"
    assert [b["type"] for b in slack["attachments"][0]["blocks"]] == [
        "section", "section", "section", "section", "context", "actions",
    ]  # fmt: skip
    subject, text_mark, *rest = email.splitlines()
    assert subject == "Subject: [P0] GlobalGuard BLOCK (GlobalGuardDailyLossLimit)"
    assert text_mark == "--- text" and "--- html" in rest
    assert rest[rest.index("--- html") + 1].startswith("<html><body><h2 style='color:#D00000'>")

    only = receiver(
        "preview", str(alert_id), "--channel", "telegram", "--kind", "reminder",
        "--templates", str(layouts), database_url=database_url,
    )  # fmt: skip
    (header, text), *more = sections(only.stdout).items()
    assert not more and header.startswith("telegram · reminder · GlobalGuardDailyLossLimit")
    assert text.startswith("🔁 <b>[P0] STILL FIRING: GlobalGuard BLOCK</b>\n")
    assert "☎️ Risk desk: d75-east" in text


def test_preview_of_a_payload_file_shows_each_alert_and_touches_no_database(
    tmp_path: Path,
) -> None:
    body = payload(
        alert(labels={"exchange": 'Up"bit <!channel>'}),
        alert("ExchangeHealthDown", severity="P1", source="HealthMonitor", fingerprint="b2",
              status="resolved"),
    )  # fmt: skip
    file = tmp_path / "payload.json"
    file.write_text(json.dumps(body))

    shown = receiver("preview", str(file))
    assert shown.returncode == 0, shown.stderr
    found = sections(shown.stdout)
    assert [h.split(" · ")[:3] for h in found] == [
        ["telegram", "firing", "GlobalGuardDailyLossLimit (not stored)"],
        ["slack", "firing", "GlobalGuardDailyLossLimit (not stored)"],
        ["email", "firing", "GlobalGuardDailyLossLimit (not stored)"],
        ["telegram", "resolved", "ExchangeHealthDown (not stored)"],
        ["slack", "resolved", "ExchangeHealthDown (not stored)"],
        ["email", "resolved", "ExchangeHealthDown (not stored)"],
    ]
    texts = list(found.values())
    assert texts[0].splitlines()[:5] == [
        "🔴 <b>[P0] GlobalGuard BLOCK</b>",
        "Reason: Global Daily Loss Limit",
        "Daily Loss: $55,000 / $50,000 (limit)",  # the amounts formatted as the webhook does
        "Action: Trading HALTED until next day",
        'Exchange: Up"bit &lt;!channel&gt;',
    ]
    assert "/history/" not in shown.stdout, "an alert that is not stored has no History link"
    assert "🔗 <a href=" in texts[0], "its other links are there"
    assert json.loads(texts[1])["attachments"][0]["blocks"][1]["fields"] == [
        {"type": "mrkdwn", "text": '*Exchange:* Up"bit &lt;!channel&gt;'}
    ]
    assert texts[3].startswith("✅ <b>[P1] RESOLVED: GlobalGuard BLOCK</b>")
    assert "Resolved: 2026-11-24 03:05:00 UTC" in texts[3]

    only = receiver("preview", str(file), "--channel", "telegram")
    assert [h.split(" · ")[0] for h in sections(only.stdout)] == ["telegram", "telegram"]
    assert list(sections(only.stdout).values()) == [texts[0], texts[3]]


def test_preview_refuses_in_one_line(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "wrong.json").write_text(json.dumps({"version": "4", "status": "firing"}))
    (tmp_path / "empty.json").write_text(json.dumps(payload() | {"alerts": []}))
    broken = tmp_path / "broken"
    (broken / "telegram").mkdir(parents=True)
    (broken / "telegram" / "A.html.j2").write_text("fine\n{{ alert.nope }}\n")
    file = str(tmp_path / "bad.json")
    cases = [
        (["999999"], database_url, 1, "d76: alert 999999: no such alert"),
        ([str(tmp_path / "gone.json")], NOWHERE, 2, "gone.json: cannot be read: No such file"),
        ([file], NOWHERE, 2, "bad.json: not JSON: Expecting property name"),
        ([str(tmp_path / "wrong.json")], NOWHERE, 2, "not an Alertmanager webhook payload: alerts"),
        ([str(tmp_path / "empty.json")], NOWHERE, 2, "empty.json: the payload has no alerts"),
        ([file, "--templates", str(broken)], NOWHERE, 2,
         f"d76: templates: {broken}/telegram/A.html.j2:2: alert has no attribute 'nope'"),
        ([file, "--templates", str(tmp_path / "none")], NOWHERE, 2, "none: not a directory"),
        (["7"], NOWHERE, 1, "d76: cannot read the alert (DATABASE_URL): connection to"),
    ]  # fmt: skip
    for args, url, status, says in cases:
        refused = receiver("preview", *args, database_url=url)
        assert refused.returncode == status, (args, refused.stdout, refused.stderr)
        assert says in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "Traceback" not in refused.stderr and not refused.stdout


def test_serve_dispatch_and_check_refuse_a_broken_template_naming_file_and_line(
    database_url: str, tmp_path: Path
) -> None:
    shutil.copytree(REPO / "config", tmp_path / "config")
    (tmp_path / "config" / "templates" / "slack").mkdir(parents=True)
    broken = tmp_path / "config" / "templates" / "slack" / "source-RiskGuard.json.j2"
    broken.write_text('{"text": "{{ headline }}",\n "attachments": [{% for %}]}\n')
    for command in ("serve", "dispatch", "check"):
        refused = receiver(command, database_url=database_url, config_dir=tmp_path / "config")
        assert refused.returncode == 2, (command, refused.stderr)
        assert f"d76 receiver: templates: {broken}:2: " in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr

    broken.unlink()
    fine = tmp_path / "config" / "templates" / "telegram" / "GlobalGuardDailyLossLimit.html.j2"
    fine.parent.mkdir()
    fine.write_text(OVERRIDE)
    checked = receiver("check", config_dir=tmp_path / "config")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == (
        "settings and message templates valid; operator templates in "
        f"{tmp_path / 'config' / 'templates'}: telegram/GlobalGuardDailyLossLimit.html.j2"
    )
