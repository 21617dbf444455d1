"""``python -m receiver serve``: the web app under gunicorn, bound to the configured address.

Several worker processes (``receiver.listen.workers``, or ``--workers``; default one per core),
each with ``--threads`` threads and its own PostgreSQL pools; metrics are summed across them
(``receiver/web/multiproc.py``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from receiver.config import Settings
from receiver.web import multiproc

log = logging.getLogger("d76.receiver")


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def connections_per_worker(threads: int) -> int:
    """PostgreSQL connections one worker opens: the webhook's pool and the API's (app.py)."""
    return threads + max(1, threads - 2)


def serve(settings: Settings, workers: int | None, threads: int) -> int:
    multiproc.prepare()  # before the app (and prometheus-client) is imported
    from gunicorn.app.base import BaseApplication

    count = workers or settings.listen.workers or default_workers()
    log.info(
        "receiver: %d worker(s) x %d threads, up to %d PostgreSQL connections",
        count,
        threads,
        count * connections_per_worker(threads),
    )

    class _Server(BaseApplication):
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{settings.listen.host}:{settings.listen.port}",
                "workers": count,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "info",
                "timeout": 30,
                "graceful_timeout": 10,
                "proc_name": "d76-receiver",
                "child_exit": multiproc.child_exit,
            }
            if "control_socket_disable" in self.cfg.settings:
                options["control_socket_disable"] = True  # several receivers may share a host
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from receiver.web.app import create_app  # in each worker, after the fork

            return create_app(settings, db_connections=threads)

    _Server().run()
    return 0
