"""Shared set-up for the benchmarks: a private PostgreSQL and the receiver under gunicorn."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack.postgres import PrivatePostgres
from stack.procs import ManagedProcess, http_ok
from stack.render import REPO
from tests.support.ports import free_port


@contextmanager
def postgres() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="d76-bench-"))
    root.chmod(0o755)
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
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def receiver(
    database_url: str, env: dict[str, str] | None = None, *, workers: int = 1, threads: int = 8
) -> Iterator[str]:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="d76-bench-log-")) / "receiver.log"
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
        log,
        env={**os.environ, "DATABASE_URL": database_url, "RECEIVER_PORT": str(port), **(env or {})},
        cwd=REPO,
    )
    proc.start()
    try:
        proc.wait_ready(http_ok(f"http://127.0.0.1:{port}/readyz"), 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()
