"""``prometheus``: a real Prometheus scraping itself every second, shared by a test module
(its own series are data enough to draw)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.procs import ManagedProcess, http_ok
from tests.support import binary
from tests.support.ports import free_port


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = state / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: self\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    proc = ManagedProcess(
        "prometheus",
        [
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={state / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        Path(state / "prometheus.log"),
    )
    proc.start()
    try:
        proc.wait_ready(http_ok(f"{url}/-/ready"), 30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # its first scrape: data to draw
            with urllib.request.urlopen(f"{url}/api/v1/query?query=up", timeout=2) as answer:
                if json.load(answer)["data"]["result"]:
                    break
            time.sleep(0.2)
        yield url
    finally:
        proc.stop()
