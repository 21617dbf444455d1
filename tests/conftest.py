"""Shared fixtures: a real PostgreSQL for the session, free ports, the Telegram stand-in."""

from __future__ import annotations

import os
import random
import shutil
import socket
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from receiver import store
from stack.postgres import PrivatePostgres
from stack.procs import ManagedProcess, http_ok
from stack.render import Ports, alertmanager_config
from stack.stack import Stack, StackConfig
from tests.standins.slack import SlackStandin
from tests.standins.telegram import TOKEN, TelegramStandin

REPO = Path(__file__).resolve().parent.parent
CHAT = "-100777"  # the chat the Telegram stand-in knows


# Ports for the servers the tests start come from below the kernel's ephemeral range
# (32768-60999 by default): a port taken from that range can be grabbed by any outgoing
# connection between the check and the server's bind. Each is handed out once per session.
_PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()
_ports = random.Random(os.getpid())


def free_port() -> int:
    for _ in range(500):
        port = _ports.randint(*_PORT_RANGE)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {_PORT_RANGE}")


@pytest.fixture(scope="session")
def state_root() -> Iterator[Path]:
    """A scratch directory the `postgres` user can enter (pytest's tmp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="d76-tests-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(state_root: Path) -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres(state_root / "pg" / "data", free_port(), state_root / "pg.log")
    pg.initialize()
    proc: ManagedProcess = pg.process()
    proc.start()
    try:
        proc.wait_ready(pg.accepting, 60)
        pg.create_database()
        store.migrate(pg.url)
        yield pg
    finally:
        proc.stop()


@pytest.fixture
def database_url(postgres: PrivatePostgres) -> str:
    """The session database, emptied for this test."""
    conn = psycopg2.connect(postgres.url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "TRUNCATE alert_history, notification, notification_attempt, digest, channel_send, "
                "alert_action, daily_summary, heartbeat, destination, delivery_totals, "
                "delivery_totals_mark "
                "RESTART IDENTITY CASCADE"
            )
    finally:
        conn.close()
    return postgres.url


def query(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@pytest.fixture
def telegram() -> Iterator[TelegramStandin]:
    standin = TelegramStandin().start()
    yield standin
    standin.stop()


def telegram_env(telegram: TelegramStandin) -> dict[str, str]:
    """The environment that points the receiver at the Telegram stand-in."""
    return {
        "TELEGRAM_API_URL": telegram.api_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_CHAT_ID": CHAT,
    }


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    standin = SlackStandin().start()
    yield standin
    standin.stop()


@pytest.fixture
def config_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with none of the receiver's variables set, pointing at the repo config."""
    for name in (
        "DATABASE_URL",
        "RECEIVER_PORT",
        "RECEIVER_WEBHOOK_TOKEN",
        "TELEGRAM_API_URL",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_CHAT_ID",
        "EXPORTER_PORT",
        "D76_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("D76_CONFIG_DIR", str(REPO / "config"))
    return monkeypatch


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make install` first")
    return path


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Alertmanager of the repo's config (fast timers), one per test module."""
    state = tmp_path_factory.mktemp("am")
    port = free_port()
    ports = Ports(alertmanager=port, receiver=free_port())
    config = alertmanager_config(state / "alertmanager.yml", ports, fast_timers=True)
    url = f"http://127.0.0.1:{port}"
    proc = ManagedProcess(
        "alertmanager",
        [
            binary("prometheus-alertmanager"),
            f"--config.file={config}",
            f"--storage.path={state / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}/",
            "--cluster.listen-address=",
        ],
        Path(state / "am.log"),
    )
    proc.start()
    try:
        proc.wait_ready(http_ok(f"{url}/-/ready"), 30)
        yield url
    finally:
        proc.stop()


# -- the whole pipeline through real binaries ------------------------------------------------


def free_ports() -> Ports:
    return Ports(
        prometheus=free_port(),
        alertmanager=free_port(),
        receiver=free_port(),
        exporter=free_port(),
        postgres=free_port(),
        alertmanager2=free_port(),
        receiver2=free_port(),
        cluster=free_port(),
        cluster2=free_port(),
        exporter2=free_port(),
    )


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
def pipeline(
    state_root: Path,
    database_url: str,
    telegram: TelegramStandin,
    tmp_path: Path,
    speed: float,
    stack_env: dict[str, str],
    engines: int,
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
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 202


def wait_rows(url: str, sql: str, expected: list[tuple[object, ...]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline:
        rows = query(url, sql)
        if rows == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"{sql!r} gave {rows}, expected {expected}")


os.environ.setdefault("D76_ENV", "dev")
