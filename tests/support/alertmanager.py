"""``alertmanager``: a real Alertmanager of the repository's config, shared by a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.procs import ManagedProcess, http_ok
from stack.render import Ports, alertmanager_config
from tests.support import binary
from tests.support.ports import free_port


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
