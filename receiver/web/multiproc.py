"""Metrics across gunicorn workers: prometheus-client's multiprocess mode.

Each worker writes its counters to memory-mapped files in one directory per receiver
(``PROMETHEUS_MULTIPROC_DIR``); whichever worker answers ``/metrics`` sums them, so a counter
is the receiver's, not the answering worker's. The directory is emptied when ``serve`` starts
(files of a previous run would be added to this one's counts), and a worker that exits has its
live gauges removed by the arbiter (``child_exit``). Counters of a dead worker stay: what it
counted happened.

Without the variable (the tests' in-process app, a single process) metrics live in the
process, as before.

prometheus-client chooses its value class when it is first imported, so ``prepare`` runs before
anything imports it: this module imports it only inside functions.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

ENV = "PROMETHEUS_MULTIPROC_DIR"


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def prepare() -> Path:
    """Choose and empty the directory, and set the variable for this process and its workers.

    ``PROMETHEUS_MULTIPROC_DIR`` if set (one directory per receiver: two receivers sharing one
    would add each other's counts), else a private temporary directory removed at exit.
    """
    import sys

    if "prometheus_client" in sys.modules:  # too late: values were chosen at its import
        raise RuntimeError("multiproc.prepare() must run before prometheus_client is imported")
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="d76-receiver-metrics-"))
        atexit.register(shutil.rmtree, path, True)
        os.environ[ENV] = str(path)
    return path


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook in the arbiter: the dead worker's live gauges no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def scrape_registry() -> Any:
    """A registry that reads every worker's files (the scrape's, built per scrape)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry
