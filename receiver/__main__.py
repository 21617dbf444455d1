"""Command line: ``python -m receiver <command>``. Every command is one row of ``COMMANDS``.

serve     the webhook and API under gunicorn (migrates first)
dispatch  the delivery loop (migrates first); run one or several
migrate   apply database migrations and exit
summary   mail (or print) a day's summary report
history   list alerts (same filters as GET /api/v1/alerts)
ack       acknowledge one alert, or every alert matching a filter
prune     delete history older than the retention
preview   print what each channel would send for an alert (an id, or a webhook payload file)
check     check the settings and the message templates, and exit
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

from d76secrets import install_log_redaction
from receiver import cli, config, store, templates

log = logging.getLogger("d76.receiver")
Settings = config.Settings


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable[[Settings, argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    database: bool = True  # needs DATABASE_URL, and migrates first
    templates: bool = False  # the message templates are checked before it starts


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


def _check(settings: Settings, args: argparse.Namespace) -> int:
    found = templates.load(settings.templates.directory)  # checked once already: cheap
    names = ", ".join(found.overrides) or "none"
    print(f"settings and message templates valid; operator templates in {found.directory}: {names}")
    return 0


COMMANDS: dict[str, Command] = {
    "serve": Command(
        "run the webhook receiver under gunicorn", _serve, _serve_arguments, templates=True
    ),
    "dispatch": Command("run the delivery loop", _dispatch, templates=True),
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
    "preview": Command(
        "print what each channel would send for an alert id or an Alertmanager payload file",
        cli.run_preview,
        cli.preview_arguments,
        database=False,  # a payload file needs none; an alert id connects itself
    ),
    "check": Command(
        "check the settings and the message templates, and exit",
        _check,
        database=False,
        templates=True,
    ),
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
    if args.command == "dispatch":
        # `make reload` sends SIGHUP to read the templates again: a dispatcher still starting
        # (it reads them then anyway) must not end on it.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_redaction()  # before anything can log a token (gunicorn's handlers included)
    command = COMMANDS[args.command]
    try:
        settings = config.load()
        if command.templates:  # a broken template stops it here, naming its file and line
            templates.load(settings.templates.directory)
        dsn = settings.dsn if command.database else None
    except config.ConfigError as exc:
        print(f"d76 receiver: {exc}", file=sys.stderr)
        return 2
    if dsn is None:
        return command.run(settings, args)
    try:
        applied = store.migrate(dsn)
    except store.UNAVAILABLE as exc:
        print(f"d76 receiver: cannot reach PostgreSQL (DATABASE_URL): {exc}", file=sys.stderr)
        return 1
    if applied:
        log.info("applied %s database migration(s)", applied)
    return command.run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
