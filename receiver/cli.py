"""Operator commands on a terminal, with the same query code as the history API.

python -m receiver history --since 24h --severity P0,P1 [--label exchange:Upbit] [--json]
python -m receiver ack 42 --by alice [--comment "on it"]
python -m receiver ack --since 1h --severity P2 --by alice      # every match
python -m receiver prune [--keep-days 400]
python -m receiver preview 42 [--channel telegram] [--kind reminder]   # an alert of the history
python -m receiver preview payload.json [--templates DIR]             # an Alertmanager body
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg2

from receiver import config, query_params, store
from receiver.errors import BadRequest, InvalidPayload
from receiver.model import Claimed


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", default="24h", help="how far back (24h, 30m, 7d) or ISO time")
    parser.add_argument("--until", help="end of the range (ISO time or 2h for 2 h ago)")
    parser.add_argument("--severity", action="append", default=[], help="P0,P1 ...")
    parser.add_argument("--source", action="append", default=[])
    parser.add_argument("--alertname", action="append", default=[])
    parser.add_argument("--status", choices=query_params.STATUSES)
    parser.add_argument("--acknowledged", choices=query_params.TRUE_FALSE)
    parser.add_argument("--label", action="append", default=[], help="name:value")


def _relative(value: str) -> str:
    return (
        value
        if value.startswith("-") or "T" in value or (value[:1].isdigit() and "-" in value)
        else f"-{value}"
    )


def filter_from(args: argparse.Namespace) -> query_params.HistoryFilter:
    params: dict[str, list[str]] = {"from": [_relative(args.since)]}
    if args.until:
        params["to"] = [_relative(args.until)]
    for name in ("severity", "source", "alertname", "label"):
        if getattr(args, name):
            params[name] = list(getattr(args, name))
    for name in ("status", "acknowledged"):
        if getattr(args, name):
            params[name] = [getattr(args, name)]
    return query_params.parse_filter(query_params.Params(params))


def _line(item: dict[str, Any]) -> str:
    ack = "ack:" + str(item["acknowledged_by"]) if item["acknowledged"] else "-"
    scope = ",".join(
        f"{k}={v}"
        for k, v in sorted(item["labels"].items())
        if k in ("exchange", "route", "symbol", "category")
    )
    return (
        f"{item['id']:>8}  {item['timestamp']:%Y-%m-%d %H:%M:%S}  {item['severity']:<4} "
        f"{item['status']:<8} {item['alertname']:<32} {scope:<28} {ack}"
    )


def run_history(settings: config.Settings, args: argparse.Namespace) -> int:
    filt = filter_from(args)
    conn = store.connect(settings.dsn)
    try:
        items, more = store.list_alerts(conn, filt, args.limit, None)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(items, default=str, indent=2))
        return 0
    print(f"{'id':>8}  {'started (UTC)':<19}  sev  status   {'alert':<32} {'scope':<28} ack")
    for item in items:
        print(_line(item))
    more_text = f"; more: raise --limit (now {args.limit})" if more else ""
    print(f"{len(items)} alert(s){more_text}")
    return 0


def run_ack(settings: config.Settings, args: argparse.Namespace) -> int:
    who = args.by or os.environ.get("USER") or "cli"
    conn = store.connect(settings.dsn)
    try:
        if args.id is not None:
            if not store.acknowledge(conn, args.id, who, args.comment):
                print(f"alert {args.id}: no such alert")
                return 1
            print(f"alert {args.id} acknowledged by {who}")
        else:
            count = store.acknowledge_matching(conn, filter_from(args), who, args.comment)
            print(f"{count} alert(s) acknowledged by {who}")
    finally:
        conn.close()
    return 0


def run_prune(settings: config.Settings, args: argparse.Namespace) -> int:
    days = args.keep_days or settings.api.retention_days
    conn = store.connect(settings.dsn)
    try:
        pruned = store.prune(conn, days)
    finally:
        conn.close()
    if pruned.months:  # a dropped month's alerts are PostgreSQL's estimate, not counted
        print(
            f"deleted about {pruned.alerts} alert(s) that started more than {days} days ago "
            f"({pruned.months} month(s) dropped whole)"
        )
    else:
        print(f"deleted {pruned.alerts} alert(s) that started more than {days} days ago")
    return 0


def run_summary(settings: config.Settings, args: argparse.Namespace) -> int:
    """Mail (or print) one day's report: the email channel alone, no dispatcher."""
    from receiver.channels.registry import kind_of
    from receiver.delivery.chores import send_daily_summary
    from receiver.delivery.daily_summary import previous_day, render

    day = args.date or previous_day(datetime.now(UTC).date())
    conn = store.connect(settings.dsn)
    try:
        if args.print:
            print(render(store.day_summary(conn, day)).text)
            return 0
        email = kind_of("email").build(settings, "email")
        try:
            outcome = send_daily_summary(conn, {"email": email}, day, force=True)
        finally:
            email.close()
    finally:
        conn.close()
    print(f"daily summary for {day}: {outcome}")
    return 0 if outcome == "sent" or outcome.startswith("already") else 1


class _Refused(Exception):
    """What preview refuses, as the one line it prints and its exit status."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def _from_history(settings: config.Settings, alert_id: int) -> Claimed:
    from receiver import preview

    try:
        conn = store.connect(settings.dsn)
        try:
            item = preview.from_history(conn, alert_id)
        finally:
            conn.close()
    except (*store.UNAVAILABLE, psycopg2.Error) as exc:
        reason = " ".join(str(exc).split())  # psycopg2 says it on several lines
        raise _Refused(f"cannot read the alert (DATABASE_URL): {reason}", 1) from None
    if item is None:
        raise _Refused(f"alert {alert_id}: no such alert", 1)
    return item


def _from_payload(alert: str) -> list[Claimed]:
    from receiver import preview

    try:
        text = sys.stdin.read() if alert == "-" else Path(alert).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise _Refused(f"{alert}: cannot be read: {reason}") from None
    try:
        items = preview.from_payload(json.loads(text))
    except json.JSONDecodeError as exc:
        raise _Refused(f"{alert}: not JSON: {exc}") from None
    except InvalidPayload as exc:
        raise _Refused(f"{alert}: not an Alertmanager webhook payload: {exc}") from None
    if not items:
        raise _Refused(f"{alert}: the payload has no alerts")
    return items


def run_preview(settings: config.Settings, args: argparse.Namespace) -> int:
    """Print what each channel would send: a header line per channel, then the message."""
    from receiver import links, preview, templates
    from receiver.channels.registry import use_templates

    try:
        directory = Path(args.templates) if args.templates else settings.templates.directory
        if args.templates and not Path(args.templates).is_dir():
            raise _Refused(f"{args.templates}: not a directory")
        layouts = templates.load(directory)
        use_templates(layouts)
        # An id is an alert of the history; anything else a payload file ("-": standard input).
        items = (
            [_from_history(settings, int(args.alert))]
            if args.alert.isdigit()
            else _from_payload(args.alert)
        )
        base = links.base_for(settings)
        shown = []
        for item in (preview.as_kind(i, args.kind, settings) for i in items):
            found = preview.links_for(item, base)
            layouts.try_alert(item, found)  # delivery would fall back to the default: say why
            shown.append((item, found))
    except _Refused as exc:
        print(f"d76: {exc}", file=sys.stderr)
        return exc.status
    except config.ConfigError as exc:  # a broken template, DATABASE_URL unset
        print(f"d76: {exc}", file=sys.stderr)
        return 2
    channels = [args.channel] if args.channel else list(preview.CHANNELS)
    print("\n\n".join(preview.show(c, item, found) for item, found in shown for c in channels))
    return 0


def history_arguments(parser: argparse.ArgumentParser) -> None:
    add_filter_arguments(parser)
    parser.add_argument("--limit", type=int, default=query_params.DEFAULT_LIMIT)
    parser.add_argument("--json", action="store_true", help="JSON, as the API returns it")


def ack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int, nargs="?")
    add_filter_arguments(parser)
    parser.add_argument("--by", help="who acknowledges (default: $USER)")
    parser.add_argument("--comment")


def prune_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep-days", type=int, help="default: api.retention_days (400)")


def preview_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "alert",
        help="an alert id of the history, or a file holding an Alertmanager webhook body "
        "(JSON; - reads standard input)",
    )
    parser.add_argument("--channel", choices=("telegram", "slack", "email"), help="only this one")
    parser.add_argument(
        "--kind",
        choices=("firing", "resolved", "reminder", "escalation"),
        help="the message of this kind (default: firing while it fires, else resolved)",
    )
    parser.add_argument(
        "--templates",
        metavar="DIR",
        help="operator templates to use instead of templates.directory (to try one out)",
    )


def summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date", type=date.fromisoformat, help="the UTC day to report (default: yesterday)"
    )
    parser.add_argument("--print", action="store_true", help="print the report instead of mailing")


def friendly(run: Callable[[config.Settings, argparse.Namespace], int]) -> Callable[..., int]:
    """A command whose bad filter is a one-line message and exit status 2, not a traceback."""

    def wrapped(settings: config.Settings, args: argparse.Namespace) -> int:
        try:
            return run(settings, args)
        except BadRequest as exc:
            print(f"d76: {exc.message}")
            return 2

    return wrapped
