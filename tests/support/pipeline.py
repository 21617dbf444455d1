"""The whole pipeline through real binaries (python -m stack's Stack: PostgreSQL, receiver,
dispatcher, the D75 simulator, Alertmanager and Prometheus, on fast timers), pointed at the
Telegram stand-in, and ``play`` to start a scenario on its simulator."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.stack import Stack, StackConfig
from tests.support import binary
from tests.support.ports import free_ports
from tests.support.standins.fixtures import telegram_env
from tests.support.standins.telegram import TelegramStandin


@pytest.fixture
def speed() -> float:
    """The simulator's time compression; a test module overrides it with its own fixture."""
    return 1.0


@pytest.fixture
def engines() -> int:
    """Simulated D75 engines in the pipeline; a test module overrides it with its own fixture."""
    return 1


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Extra environment for the stack's processes; a test module may override it."""
    return {}


@pytest.fixture
def alertmanager_ui() -> Path | None:
    """The Alertmanager web UI to serve (a directory holding static/index.html); None: none,
    as Debian's Alertmanager ships. A test module overrides it with its own fixture."""
    return None


@pytest.fixture
def pipeline(
    state_root: Path,
    database_url: str,
    telegram: TelegramStandin,
    tmp_path: Path,
    speed: float,
    stack_env: dict[str, str],
    engines: int,
    alertmanager_ui: Path | None,
) -> Iterator[Stack]:
    binary("prometheus")
    binary("prometheus-alertmanager")
    config = StackConfig(
        state_dir=tmp_path / "stack",
        ports=free_ports(),
        scenario="calm",
        speed=speed,
        database_url=database_url,
        fast_timers=True,
        engines=engines,
        alertmanager_ui=alertmanager_ui,
        env={**telegram_env(telegram), "RECEIVER_WEBHOOK_TOKEN": "e2e-webhook-token", **stack_env},
    )
    stack = Stack(config, progress=lambda _: None)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def play(stack: Stack, scenario: str, exporter: str = "exporter") -> None:
    """Start ``scenario`` on the simulator ``exporter`` ("exporter2": the second engine)."""
    request = urllib.request.Request(f"{stack.url(exporter)}/scenario/{scenario}", method="POST")
    with urllib.request.urlopen(request, timeout=20) as response:  # a loaded 2-core box
        assert response.status == 202
