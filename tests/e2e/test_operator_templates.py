"""An operator's template through the real Prometheus, Alertmanager, receiver and dispatcher:
the documented example, copied into config/templates/, changes one alert's Telegram message and
no other's; a broken edit is refused by `make reload` (the stack's reload) naming its file and
line, and the running dispatcher keeps the template in use; a valid edit reaches the next
message after a reload; a stack whose template is broken does not start."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.procs import StartupError
from stack.stack import Stack, StackConfig
from tests.support import REPO
from tests.support.pipeline import play
from tests.support.ports import free_ports
from tests.support.standins.telegram import SentMessage, TelegramStandin

pytestmark = pytest.mark.e2e
EXAMPLE = (
    REPO / "docs" / "examples" / "templates" / "telegram" / "GlobalGuardDailyLossLimit.html.j2"
)
DESK = "☎️ Risk desk: +82 2 555 0100 (around the clock), engine d75"


def installed(config_dir: Path) -> Path:
    return config_dir / "templates" / "telegram" / "GlobalGuardDailyLossLimit.html.j2"


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    shutil.copytree(REPO / "config", tmp_path / "config")
    installed(tmp_path / "config").parent.mkdir(parents=True)
    shutil.copy(EXAMPLE, installed(tmp_path / "config"))
    return {"D76_CONFIG_DIR": str(tmp_path / "config")}


def after_action(message: SentMessage) -> str:
    """The line after the Action lines (the seed's: "Action: Trading HALTED until next day",
    "Manual Review Required: YES")."""
    lines = message.text.splitlines()
    assert lines[lines.index("Action: Trading HALTED until next day") + 1] == (
        "Manual Review Required: YES"
    )
    return lines[lines.index("Manual Review Required: YES") + 1]


def test_an_operator_template_changes_one_alerts_message_and_reload_guards_it(
    pipeline: Stack, telegram: TelegramStandin, tmp_path: Path
) -> None:
    play(pipeline, "global_daily_loss")
    page = telegram.wait_for(lambda m: "<b>[P0] GlobalGuard BLOCK</b>" in m.text, 40)
    assert after_action(page) == DESK
    assert "Daily Loss: $55,000 / $50,000 (limit)" in page.text, "the default's lines stay"
    play(pipeline, "rate_limit_squeeze")
    other = telegram.wait_for(lambda m: "] Rate Limit Warning</b>" in m.text, 40)
    assert "Risk desk" not in other.text, "another alert keeps the default layout"

    template = installed(tmp_path / "config")
    good = template.read_text()
    template.write_text(good.replace("{{ super() -}}", "{{ super( -}}"))
    with pytest.raises(StartupError) as refused:
        pipeline.reload()
    line = good.splitlines().index("{{ super() -}}") + 1
    assert f"receiver refused the new configuration: templates: {template}:{line}: " in str(
        refused.value
    )

    play(pipeline, "calm")
    resolved = telegram.wait_for(lambda m: "RESOLVED: GlobalGuard BLOCK</b>" in m.text, 40)
    assert DESK in resolved.text.splitlines(), "the template in use stays after a refusal"

    template.write_text(good.replace("☎️ Risk desk", "☎️ Risk desk (night)"))
    pipeline.reload()
    play(pipeline, "global_daily_loss")
    again = telegram.wait_for(
        lambda m: "<b>[P0] GlobalGuard BLOCK</b>" in m.text and m.message_id > resolved.message_id,
        40,
    )
    assert after_action(again) == DESK.replace("Risk desk", "Risk desk (night)")


@pytest.fixture
def broken_stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    shutil.copytree(REPO / "config", tmp_path / "config")
    template = installed(tmp_path / "config")
    template.parent.mkdir(parents=True)
    template.write_text(
        '{% extends "default/telegram.html.j2" %}\n{% block head %}\n{{ nope }}\n{% endblock %}\n'
    )
    stack = Stack(
        StackConfig(
            state_dir=tmp_path / "state",
            ports=free_ports(),
            demo=False,
            database_url=database_url,
            env={"D76_CONFIG_DIR": str(tmp_path / "config")},
        ),
        progress=lambda _: None,
    )
    try:
        yield stack
    finally:
        stack.stop()


def test_a_stack_whose_template_is_broken_does_not_start(
    broken_stack: Stack, tmp_path: Path
) -> None:
    with pytest.raises(StartupError) as refused:
        broken_stack.start()
    template = installed(tmp_path / "config")
    assert "receiver exited with code 2 during start-up" in str(refused.value)
    assert f"d76 receiver: templates: {template}:3: 'nope' is undefined" in str(refused.value)
