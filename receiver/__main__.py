"""Command line: ``python -m receiver serve|dispatch|migrate``.

serve     the webhook and API under gunicorn (migrates first)
dispatch  the delivery loop (migrates first); run one or several
migrate   apply database migrations and exit
summary   mail (or print) a day's summary report
history   list alerts (same filters as GET /api/v1/alerts)
ack       acknowledge one alert, or every alert matching a filter
prune     delete history older than the retention
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from typing import Any

from d76secrets import install_log_redaction
from receiver import cli, config, store

log = logging.getLogger("d76.receiver")


def _serve(settings: config.Settings, workers: int, threads: int) -> int:
    from gunicorn.app.base import BaseApplication

    from receiver.web.app import create_app

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m receiver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the webhook receiver under gunicorn")
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--threads", type=int, default=8)
    sub.add_parser("dispatch", help="run the delivery loop")
    sub.add_parser("migrate", help="apply database migrations and exit")
    daily = sub.add_parser("summary", help="mail (or --print) a day's summary report")
    daily.add_argument(
        "--date", type=date.fromisoformat, help="the UTC day to report (default: yesterday)"
    )
    daily.add_argument("--print", action="store_true", help="print the report instead of mailing")
    cli.add_commands(sub)
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_redaction()  # before anything can log a token (gunicorn's handlers included)
    try:
        settings = config.load()
        dsn = settings.dsn
    except config.ConfigError as exc:
        print(f"d76 receiver: {exc}", file=sys.stderr)
        return 2
    try:
        applied = store.migrate(dsn)
    except store.UNAVAILABLE as exc:
        print(f"d76 receiver: cannot reach PostgreSQL (DATABASE_URL): {exc}", file=sys.stderr)
        return 1
    if applied:
        log.info("applied %s database migration(s)", applied)
    if args.command == "migrate":
        return 0
    if args.command == "summary":
        return cli.run_summary(settings, args.date, args.print)
    if args.command in ("history", "ack", "prune"):
        return cli.run(args.command, settings, args)
    if args.command == "dispatch":
        from receiver.delivery import main as dispatch_main

        return dispatch_main(settings)
    return _serve(settings, args.workers, args.threads)


if __name__ == "__main__":
    sys.exit(main())
