"""The daily summary report the seed asks for: an HTML email with counts by severity and
source, the P0/P1 list with times to acknowledge and to resolve, the noisiest rules, and a
CSV of the day's alerts and a PDF with its charts attached. Sent by the dispatcher once a day,
or by hand:

    python -m receiver summary [--date 2026-11-23] [--print]
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
from collections.abc import Sequence
from datetime import date

from receiver.channels.base import Outgoing
from receiver.store import DaySummary

log = logging.getLogger("d76.dispatcher")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _table(headers: tuple[str, ...], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th align='left'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table border='1' cellpadding='4' cellspacing='0'><tr>{head}</tr>{body}</table>"


def csv_text(summary: DaySummary) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(summary.columns)
    for row in summary.rows:
        writer.writerow([json.dumps(v) if isinstance(v, dict) else v for v in row])
    return buffer.getvalue()


def render(summary: DaySummary) -> Outgoing:
    day = summary.day.isoformat()
    urgent = [
        (
            u["timestamp"].strftime("%H:%M:%S"),
            u["severity"],
            u["alertname"],
            u["title"],
            u["status"],
            _duration(u["ack_seconds"]),
            _duration(u["resolve_seconds"]),
        )
        for u in summary.urgent
    ]
    parts = [
        f"<html><body><h2>D75 alerts on {day} (UTC): {summary.total}</h2>",
        "<h3>By severity</h3>",
        _table(("Severity", "Alerts"), list(summary.by_severity)),
        "<h3>By source</h3>",
        _table(("Source", "Alerts"), list(summary.by_source)),
        "<h3>P0 and P1</h3>",
        _table(
            ("Started", "Severity", "Alert", "Title", "Status", "Time to ack", "Time to resolve"),
            urgent,
        )
        if urgent
        else "<p>None.</p>",
        "<h3>Noisiest rules</h3>",
        _table(("Alert", "Severity", "Occurrences"), list(summary.noisiest)),
        "<p><small>Every alert of the day is in the attached CSV; its charts are in the PDF."
        "</small></p></body></html>",
    ]
    text = "\n".join(
        [f"D75 alerts on {day} (UTC): {summary.total}"]
        + [f"  {s}: {n}" for s, n in summary.by_severity]
        + ["P0/P1:"]
        + [f"  {u[0]} [{u[1]}] {u[2]}: ack {u[5]}, resolve {u[6]}" for u in urgent]
        + ["Noisiest rules:"]
        + [f"  {a} [{s}]: {n}" for a, s, n in summary.noisiest]
    )
    attachments: dict[str, tuple[str | bytes, str]] = {
        f"d75-alerts-{day}.csv": (csv_text(summary), "text/csv")
    }
    try:
        from receiver.delivery.report_pdf import report_pdf

        attachments[f"d75-alerts-{day}.pdf"] = (report_pdf(summary), "application/pdf")
    except Exception:  # the charts must never cost the operator the report itself
        log.exception("daily summary %s: the PDF could not be drawn; sending without it", day)
        parts.insert(-1, "<p><b>The PDF with the charts could not be drawn; see the log.</b></p>")
    return Outgoing(
        text=text,
        subject=f"[D75] Daily alert summary {day}: {summary.total} alerts",
        body={"html": "".join(parts), "attachments": attachments},
    )


def previous_day(today: date) -> date:
    return date.fromordinal(today.toordinal() - 1)
