"""Command line: ``python -m receiver <command>``. Every command is one row of ``COMMANDS``.

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
from collections.abc import Callable
from dataclasses import dataclass

from d76secrets import install_log_redaction
from receiver import cli, config, store

log = logging.getLogger("d76.receiver")
Settings = config.Settings


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable[[Settings, argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from receiver.web.server import serve

    return serve(settings, args.workers, args.threads)


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn worker processes (default: receiver.listen.workers, else one per core)",
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")


def _dispatch(settings: Settings, args: argparse.Namespace) -> int:
    from receiver.delivery import main as dispatch_main

    return dispatch_main(settings)


COMMANDS: dict[str, Command] = {
    "serve": Command("run the webhook receiver under gunicorn", _serve, _serve_arguments),
    "dispatch": Command("run the delivery loop", _dispatch),
    "migrate": Command("apply database migrations and exit", lambda settings, args: 0),
    "summary": Command(
        "mail (or --print) a day's summary report", cli.run_summary, cli.summary_arguments
    ),
    "history": Command(
        "list alerts from the history", cli.friendly(cli.run_history), cli.history_arguments
    ),
    "ack": Command(
        "acknowledge an alert, or every alert matching a filter",
        cli.friendly(cli.run_ack),
        cli.ack_arguments,
    ),
    "prune": Command("delete history older than the retention", cli.run_prune, cli.prune_arguments),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m receiver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.arguments(sub.add_parser(name, help=command.help))
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
    return COMMANDS[args.command].run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
