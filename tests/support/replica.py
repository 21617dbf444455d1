"""A streaming replica of the session's PostgreSQL: a base backup of the primary with
``pg_basebackup -R`` (it writes standby.signal and primary_conninfo), started in recovery the way
``stack/postgres.py`` starts a private cluster, on 127.0.0.1 only."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack.postgres import PrivatePostgres, pg_bin
from tests.support.ports import free_port


@contextmanager
def streaming_replica(primary: PrivatePostgres, root: Path) -> Iterator[PrivatePostgres]:
    """A hot standby of ``primary`` (its every database), stopped and removed on exit."""
    home = root / f"replica-{uuid.uuid4().hex[:8]}"
    replica = PrivatePostgres(home / "data", free_port(), home / "replica.log")
    home.mkdir()
    home.chmod(0o755)
    replica._own(replica.data_dir)
    result = subprocess.run(
        [
            pg_bin("pg_basebackup"),
            "-D",
            str(replica.data_dir),
            "-R",  # standby.signal + primary_conninfo: start as a streaming replica
            "-X",
            "stream",
            "-c",
            "fast",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "d76",
        ],
        capture_output=True,
        text=True,
        user=replica.run_as,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        raise RuntimeError(f"pg_basebackup failed: {result.stderr.strip()[-2000:]}")
    proc = replica.process()
    proc.start()
    try:
        proc.wait_ready(replica.accepting, 60)
        yield replica
    finally:
        proc.stop()
        shutil.rmtree(home, ignore_errors=True)
