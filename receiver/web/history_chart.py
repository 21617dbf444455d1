"""The history page's chart: alerts per hour (or day) by severity, as stacked bars in inline
SVG with a y axis of counts, an x axis of times (hours over a day, dates over weeks), both
axis titles and a legend of the severities in their colours (``model.SEVERITIES``).
Drawn on the server: no JavaScript, no external resource. The SVG is well-formed XML."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from markupsafe import escape

from receiver.model import SEVERITIES

MAX_SLOTS = 400
WIDTH, HEIGHT = 900, 230
# The plot area inside the SVG: room for the legend above, tick labels and titles around.
LEFT, RIGHT, TOP, BOTTOM = 64, 10, 30, 180
MAX_X_LABELS = 13  # 25 hourly bars (the default -24h) get a label every 2 hours
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
HOUR_STRIDES = (1, 2, 3, 4, 6, 12, 24)  # label every n hours (n divides 24: aligned on UTC days)
DAY_STRIDES = (1, 2, 7, 14, 28)  # label every n days (7 and more: from a Monday)
GRID, AXIS, TEXT = "#e4e4e4", "#888", "#444"


def unit(step: timedelta) -> str:
    """What one bar counts: "day" or "hour"."""
    return "day" if step >= timedelta(days=1) else "hour"


def slots_for(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The start of every bar from ``start``'s hour (or day) until ``end``."""
    moment = start.replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        moment = moment.replace(hour=0)
    slots: list[datetime] = []
    while moment < end and len(slots) < MAX_SLOTS:
        slots.append(moment)
        moment += step
    return slots


def y_ticks(peak: int, most: int = 5) -> list[int]:
    """Counts to mark on the y axis: 0 up to the first round step at or above ``peak``, at most
    ``most`` + 1 of them, the step 1, 2 or 5 times a power of ten (always a whole number)."""
    if peak <= 0:
        return [0, 1]
    raw = peak / most
    magnitude = 10 ** max(0, math.floor(math.log10(raw))) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = math.ceil(peak / step) * step
    return list(range(0, top + 1, step))


def _date(moment: datetime) -> str:
    return f"{MONTHS[moment.month - 1]} {moment.day}"


def x_labels(slots: list[datetime], step: timedelta) -> list[tuple[int, str]]:
    """(slot index, text) of the time labels: hours ("06:00", the date at midnight) for an
    hourly chart, dates ("Nov 24") for a daily one, spaced to fit."""
    if not slots:
        return []
    if step < timedelta(days=1):
        stride = next((s for s in HOUR_STRIDES if len(slots) / s <= MAX_X_LABELS), 24)
        return [
            (i, _date(s) if s.hour == 0 else f"{s.hour:02d}:00")
            for i, s in enumerate(slots)
            if s.hour % stride == 0
        ]
    stride = next((s for s in DAY_STRIDES if len(slots) / s <= MAX_X_LABELS), DAY_STRIDES[-1])
    if stride < 7:
        return [(i, _date(s)) for i, s in enumerate(slots) if s.toordinal() % stride == 0]
    weeks = stride // 7
    return [
        (i, _date(s))
        for i, s in enumerate(slots)
        if s.weekday() == 0 and (s.toordinal() // 7) % weeks == 0
    ]


def chart(buckets: list[dict[str, Any]], start: datetime, end: datetime, step: timedelta) -> str:
    """Stacked bars of alerts per bucket and severity, with axes and a legend, as inline SVG.
    ``buckets``: ``store.bucket_counts(..., "severity")``'s rows."""
    slots = slots_for(start, end, step)
    per = unit(step)
    counts: dict[tuple[str, str], int] = {(b["bucket"], b["severity"]): b["count"] for b in buckets}
    totals = [sum(counts.get((s.isoformat(), sev), 0) for sev in SEVERITIES) for s in slots]
    ticks = y_ticks(max(totals, default=0))
    top = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, BOTTOM - TOP
    slot_w = plot_w / max(len(slots), 1)
    bar_w = max(1.0, slot_w * 0.8 if slot_w > 4 else slot_w - 0.5)
    title = f"alerts per {per} by severity"
    parts = [
        f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" '
        f'font-family="system-ui, sans-serif" font-size="11" fill="{TEXT}">',
        f"<title>{title}</title>",
    ]
    # The legend: one swatch per severity, in the table's order.
    parts.append(f'<g class="legend" transform="translate({LEFT},8)">')
    for i, (name, style) in enumerate(SEVERITIES.items()):
        left = i * 64
        parts.append(
            f'<g class="legend-item" data-severity="{escape(name)}">'
            f'<rect x="{left}" y="0" width="12" height="12" fill="{escape(style.colour)}"/>'
            f'<text x="{left + 16}" y="10">{escape(name)}</text></g>'
        )
    parts.append("</g>")
    # The y axis: gridlines and counts.
    parts.append('<g class="y-axis">')
    for tick in ticks:
        y = BOTTOM - tick / top * plot_h
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}" stroke="{AXIS}"/>'
        f'<text class="axis-title" x="14" y="{(TOP + BOTTOM) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + BOTTOM) / 2:.0f})">alerts per {per}</text></g>'
    )
    # The bars, stacked most urgent at the bottom.
    parts.append('<g class="bars">')
    for i, slot in enumerate(slots):
        y = float(BOTTOM)
        x = LEFT + i * slot_w + (slot_w - bar_w) / 2
        for sev, style in SEVERITIES.items():
            n = counts.get((slot.isoformat(), sev), 0)
            if n:
                h = n / top * plot_h
                y -= h
                parts.append(
                    f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                    f'height="{h:.1f}" fill="{escape(style.colour)}"><title>'
                    f"{escape(slot.strftime('%Y-%m-%d %H:%M'))} UTC {escape(sev)}: {n}"
                    "</title></rect>"
                )
    parts.append("</g>")
    # The x axis: a tick and a time under the start of each labelled bar.
    parts.append(
        f'<g class="x-axis"><line x1="{LEFT}" y1="{BOTTOM}" x2="{WIDTH - RIGHT}" y2="{BOTTOM}" '
        f'stroke="{AXIS}"/>'
    )
    # An hour's label marks where it starts; a day's, the middle of its bar.
    offset = slot_w / 2 if step >= timedelta(days=1) else 0.0
    for i, text in x_labels(slots, step):
        x = LEFT + i * slot_w + offset
        parts.append(
            f'<line x1="{x:.1f}" y1="{BOTTOM}" x2="{x:.1f}" y2="{BOTTOM + 4}" stroke="{AXIS}"/>'
            f'<text class="tick" x="{x:.1f}" y="{BOTTOM + 16}" text-anchor="middle">'
            f"{escape(text)}</text>"
        )
    parts.append(
        f'<text class="axis-title" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" '
        'text-anchor="middle">time (UTC)</text></g>'
    )
    if not any(totals):
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2:.0f}" y="{(TOP + BOTTOM) / 2:.0f}" '
            'text-anchor="middle">no alerts in this range</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
