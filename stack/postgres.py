"""A private PostgreSQL cluster on 127.0.0.1, for `make run` and the tests.

Initialised once in a state directory (initdb), started in the foreground as a child
process, trust authentication on loopback only. As root, the server runs as the `postgres`
user, because initdb and postgres refuse to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
from pathlib import Path

import psycopg2

from d76secrets import open_private_log
from stack.procs import ManagedProcess, StartupError

DB_USER = "d76"
DB_NAME = "d76"


def pg_bin(tool: str) -> str:
    """Path of a PostgreSQL server tool: Debian keeps them in /usr/lib/postgresql/N/bin."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"),
        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    found = shutil.which(tool)
    if found:
        return found
    raise StartupError(f"PostgreSQL's {tool} not found: run `make install` (apt: postgresql)")


class PrivatePostgres:
    def __init__(self, data_dir: Path, port: int, log_path: Path) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_path = log_path
        self.socket_dir = data_dir.parent / "pg-socket"
        self.run_as = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            shutil.chown(path, self.run_as, self.run_as)
        path.chmod(0o700)

    def initialize(self) -> bool:
        """initdb if the cluster does not exist yet; return True if it was created."""
        if (self.data_dir / "PG_VERSION").is_file():
            return False
        self._own(self.data_dir)
        self._own(self.socket_dir)
        with open_private_log(self.log_path) as log:
            result = subprocess.run(
                [
                    pg_bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    DB_USER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.run_as,
                check=False,
            )
        if result.returncode != 0:
            raise StartupError(f"initdb failed (code {result.returncode}); see {self.log_path}")
        return True

    def process(self) -> ManagedProcess:
        self._own(self.socket_dir)
        argv = [
            pg_bin("postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.socket_dir}",
        ]
        # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
        return ManagedProcess(
            "postgres", argv, self.log_path, stop_signal=signal.SIGINT, user=self.run_as
        )

    def accepting(self) -> bool:
        try:
            psycopg2.connect(self._admin_url(), connect_timeout=1).close()
        except psycopg2.OperationalError:
            return False
        return True

    def _admin_url(self) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/postgres"

    def create_database(self) -> None:
        conn = psycopg2.connect(self._admin_url(), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DB_NAME}"')
        finally:
            conn.close()
