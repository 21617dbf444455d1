"""Shared set-up for the benchmarks: a private PostgreSQL, the receiver under gunicorn, a
dispatcher, a configuration copy with the rate budget lifted, and the figures' rows."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stack.postgres import PrivatePostgres
from stack.procs import ManagedProcess, http_ok
from stack.render import REPO
from tests.support.ports import free_port
from tests.support.standins.telegram import TelegramStandin

CHAT = "-100777"  # the chat the Telegram stand-in knows
LIFTED_BUDGET = 1_000_000  # messages per window while a bench measures latency, not the budget


# -- figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    """One number of a figure: ``name`` (p50, p99, or "" for a rate), value and unit."""

    name: str
    value: float
    unit: str

    def __str__(self) -> str:
        value = abs(self.value)
        number = (
            f"{self.value:,.0f}"
            if value >= 100
            else f"{self.value:.1f}"
            if value >= 10
            else f"{self.value:.2f}"
        )
        return f"{self.name} {number} {self.unit}" if self.name else f"{number} {self.unit}"


@dataclass
class Row:
    """One line of the summary table. The ratio is measured ÷ comparison of the first stat."""

    key: str
    figure: str
    goal: str
    command: str
    measured: list[Stat] = field(default_factory=list)
    comparison_name: str = ""
    comparison: list[Stat] = field(default_factory=list)
    met: bool | None = None  # the goal; None when the figure was not measured
    note: str = ""
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if not self.measured or not self.comparison or self.comparison[0].value == 0:
            return None
        return self.measured[0].value / self.comparison[0].value

    @property
    def ok(self) -> bool:
        """Measured, with its comparison when it has one."""
        return (
            self.error is None
            and bool(self.measured)
            and (not self.comparison_name or bool(self.comparison))
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["measured_text"] = " · ".join(str(s) for s in self.measured)
        data["comparison_text"] = " · ".join(str(s) for s in self.comparison)
        return data


@dataclass(frozen=True)
class Figure:
    """A row a benchmark promises: its key (stable across runs, for comparing JSON records),
    title and goal."""

    key: str
    title: str
    goal: str

    def row(self, command: str, **measured: Any) -> Row:
        return Row(key=self.key, figure=self.title, goal=self.goal, command=command, **measured)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * q / 100))
    return ordered[min(len(ordered), rank) - 1]


def latency_stats(samples_ms: Sequence[float], unit: str = "ms") -> list[Stat]:
    scale = 1000 if unit == "s" else 1
    return [
        Stat(name, percentile(samples_ms, q) / scale, unit)
        for name, q in (("p50", 50), ("p95", 95), ("p99", 99))
    ]


@dataclass(frozen=True)
class Bench:
    """What the runner needs of a benchmark module."""

    name: str
    figures: Sequence[Figure]  # every row it fills
    parser: Callable[[], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], list[Row]]
    smoke: Sequence[str]  # the arguments for the smallest sizes


def command(module: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The command line that reproduces a figure: the module and its non-default arguments."""
    words = [".venv/bin/python", "-m", module]
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        value = getattr(args, action.dest, action.default)
        if value != action.default:
            words += [
                action.option_strings[0],
                f"{value:g}" if isinstance(value, float) else str(value),
            ]
    return " ".join(words)


def standalone(bench: Bench) -> None:
    """``python -m bench.<name>``: run one benchmark and print its rows."""
    from bench.report import print_table

    rows = bench.run(bench.parser().parse_args())
    print()
    print_table(rows)
    sys.exit(0 if all(row.ok for row in rows) else 1)


# -- processes ---------------------------------------------------------------------------------


@contextmanager
def postgres() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="d76-bench-"))
    root.chmod(0o755)
    try:
        pg = PrivatePostgres(root / "pg", free_port(), root / "pg.log")
        pg.initialize()
        proc = pg.process()
        proc.start()
        try:
            proc.wait_ready(pg.accepting, 60)
            pg.create_database()
            subprocess.run(
                [sys.executable, "-m", "receiver", "migrate"],
                check=True,
                env={**os.environ, "DATABASE_URL": pg.url},
                cwd=REPO,
                capture_output=True,
            )
            yield pg.url
        finally:
            proc.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def receiver(
    database_url: str, env: dict[str, str] | None = None, *, workers: int = 1, threads: int = 8
) -> Iterator[str]:
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="d76-bench-log-"))
    proc = ManagedProcess(
        "receiver",
        [
            sys.executable,
            "-m",
            "receiver",
            "serve",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        logs / "receiver.log",
        env={**os.environ, "DATABASE_URL": database_url, "RECEIVER_PORT": str(port), **(env or {})},
        cwd=REPO,
    )
    try:
        proc.start()
        try:
            proc.wait_ready(http_ok(f"http://127.0.0.1:{port}/readyz"), 30)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.stop()
    finally:
        shutil.rmtree(logs, ignore_errors=True)


@contextmanager
def dispatcher(database_url: str, env: dict[str, str]) -> Iterator[ManagedProcess]:
    logs = Path(tempfile.mkdtemp(prefix="d76-bench-log-"))
    proc = ManagedProcess(
        "dispatcher",
        [sys.executable, "-m", "receiver", "dispatch"],
        logs / "dispatcher.log",
        env={**os.environ, **env, "DATABASE_URL": database_url},
        cwd=REPO,
    )
    try:
        proc.start()
        try:
            proc.wait_ready(lambda: "dispatcher started" in proc.tail(200), 30)
            yield proc
        finally:
            proc.stop()
    finally:
        shutil.rmtree(logs, ignore_errors=True)


@contextmanager
def lifted_budget_config() -> Iterator[Path]:
    """A copy of config/ whose dev overlay lifts the per-chat rate budget (10 messages a
    minute): a latency bench sends more than that and measures the pipeline, not the budget."""
    folder = Path(tempfile.mkdtemp(prefix="d76-bench-config-"))
    try:
        for path in (REPO / "config").glob("*.yml"):
            shutil.copy(path, folder / path.name)
        overlay = yaml.safe_load((folder / "dev.yml").read_text()) or {}
        dispatch = overlay.setdefault("receiver", {}).setdefault("dispatcher", {})
        dispatch["rate_limit_per_window"] = LIFTED_BUDGET
        (folder / "dev.yml").write_text(yaml.safe_dump(overlay, sort_keys=False))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def telegram_standin() -> Iterator[TelegramStandin]:
    """The Telegram stand-in, without a traceback on stderr for each reply to a client that has
    gone: the dispatcher's getUpdates long poll (up to 20 s) is answered after a bench has
    stopped that dispatcher, in the middle of the next bench's output."""
    standin = TelegramStandin()
    server = standin._server
    report = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)

    server.handle_error = handle_error  # type: ignore[method-assign]
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


def telegram_env(api_url: str, token: str, config_dir: Path) -> dict[str, str]:
    return {
        "D76_CONFIG_DIR": str(config_dir),
        "D76_ENV": "dev",
        "TELEGRAM_API_URL": api_url,
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_CHAT_ID": CHAT,
    }
