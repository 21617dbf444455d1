"""``python -m receiver serve``: the web app under gunicorn, bound to the configured address."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from receiver.config import Settings
from receiver.web.app import create_app


def serve(settings: Settings, workers: int, threads: int) -> int:
    class _Server(BaseApplication):
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{settings.listen.host}:{settings.listen.port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "info",
                "timeout": 30,
                "graceful_timeout": 10,
                "proc_name": "d76-receiver",
            }
            if "control_socket_disable" in self.cfg.settings:
                options["control_socket_disable"] = True  # several receivers may share a host
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings, db_connections=threads)

    _Server().run()
    return 0
