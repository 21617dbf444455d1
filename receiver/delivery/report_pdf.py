"""The daily report as a PDF beside the CSV: alerts per hour by severity, times to acknowledge
and to resolve by severity, and the noisiest rules, one A4 landscape page each.

Drawn with matplotlib's object API on the Agg/PDF backends (no display, no pyplot global
state, so the dispatcher's threads cannot share a figure). Computed from the same
``DaySummary`` as the HTML and the CSV, so the three always agree.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from receiver.model import SEVERITIES
from receiver.store import DaySummary

A4_LANDSCAPE = (11.69, 8.27)  # inches


def report_pdf(summary: DaySummary) -> bytes:
    """Three pages; the PDF's dates are left out, so one day's summary is the same bytes."""
    buffer = io.BytesIO()
    metadata = {"Title": f"D75 alerts on {summary.day.isoformat()} (UTC)", "CreationDate": None}
    with PdfPages(buffer, metadata=metadata) as pdf:
        for draw in (_per_hour, _times, _noisiest):
            figure = Figure(figsize=A4_LANDSCAPE)
            draw(figure.add_subplot(), summary)
            figure.suptitle(f"D75 alerts on {summary.day.isoformat()} (UTC): {summary.total}")
            figure.tight_layout()
            pdf.savefig(figure)
    return buffer.getvalue()


def _rows(summary: DaySummary) -> list[dict[str, Any]]:
    return [dict(zip(summary.columns, row, strict=True)) for row in summary.rows]


def _per_hour(ax: Axes, summary: DaySummary) -> None:
    counts = {name: [0] * 24 for name in SEVERITIES}
    for row in _rows(summary):
        counts.setdefault(row["severity"], [0] * 24)[row["timestamp"].hour] += 1
    bottom = [0] * 24
    for name, per_hour in counts.items():
        if any(per_hour):
            colour = SEVERITIES[name].colour if name in SEVERITIES else "#9E9E9E"
            ax.bar(range(24), per_hour, bottom=bottom, color=colour, label=name)
            bottom = [b + n for b, n in zip(bottom, per_hour, strict=True)]
    ax.set_title("Alerts per hour by severity")
    ax.set_xlabel("hour (UTC)")
    ax.set_ylabel("alerts started")
    ax.set_xticks(range(24))
    if any(bottom):
        ax.legend()
    else:
        _nothing(ax, "no alerts this day")


def _minutes(values: Sequence[float | None]) -> list[float]:
    return [v / 60 for v in values if v is not None and v >= 0]


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def _times(ax: Axes, summary: DaySummary) -> None:
    names = [n for n in SEVERITIES if n != "none"]
    ack: dict[str, list[float | None]] = {n: [] for n in names}
    resolve: dict[str, list[float | None]] = {n: [] for n in names}
    for row in _rows(summary):
        if row["severity"] in ack:
            ack[row["severity"]].append(_seconds(row["timestamp"], row["acknowledged_at"]))
            resolve[row["severity"]].append(_seconds(row["timestamp"], row["ends_at"]))
    width = 0.38
    for offset, label, series in (
        (-width / 2, "to acknowledge", ack),
        (width / 2, "to resolve", resolve),
    ):
        medians = [statistics.median(m) if (m := _minutes(series[n])) else 0 for n in names]
        bars = ax.bar([i + offset for i in range(len(names))], medians, width, label=label)
        for bar, name in zip(bars, names, strict=True):
            n = len(_minutes(series[name]))
            ax.annotate(f"n={n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=9)  # fmt: skip
    ax.set_xticks(range(len(names)), names)
    ax.set_title("Median time to acknowledge and to resolve, by severity")
    ax.set_ylabel("minutes")
    ax.legend()


def _noisiest(ax: Axes, summary: DaySummary) -> None:
    rules = list(reversed(summary.noisiest))
    if not rules:
        _nothing(ax, "no alerts this day")
        return
    colours = [SEVERITIES[s].colour if s in SEVERITIES else "#9E9E9E" for _, s, _ in rules]
    ax.barh([f"{a} [{s}]" for a, s, _ in rules], [n for _, _, n in rules], color=colours)
    ax.set_title("Noisiest rules")
    ax.set_xlabel("occurrences")


def _nothing(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
