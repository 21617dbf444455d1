"""Drawing a graph snapshot: the alert's series before and since it fired, its threshold and
the firing moment, as a PNG that reads on a phone (1000×560 px, large type).

matplotlib's object API on the Agg backend: no display and no pyplot state, so threads may
draw at once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from PIL import Image

from receiver.graphs.expression import metric_name
from receiver.graphs.prometheus import Series

WIDTH_PX, HEIGHT_PX, DPI = 1000, 560, 100
PALETTE = 96  # colours of the PNG's palette: lines, text and their anti-aliasing
MIN_SPAN_SECONDS = 60  # the narrowest picture (a series that began seconds ago)
SPARSE_POINTS = 30  # fewer samples than this: each is marked
MAX_LINES = 6  # more series than this: the first ones, and the count in the legend
FIRING_COLOUR = "#D00000"
THRESHOLD_COLOUR = "#444444"
LINE_COLOURS = ("#1E88E5", "#F57C00", "#2E7D32", "#8E24AA", "#00897B", "#6D4C41")


@dataclass(frozen=True, slots=True)
class Unit:
    axis: str  # the y axis's title
    scale: float  # values are multiplied by this before drawing
    suffix: str  # after each tick ("%", " s")
    prefix: str = ""  # before each tick ("$")


def unit_of(expression: str) -> Unit:
    """The unit of what ``expression`` computes, from its metric's name (Prometheus naming:
    ``_usd``, ``_ratio``, ``_seconds``, ``_bytes``, counters under ``rate``)."""
    name = metric_name(expression) or ""
    if "/" in expression and not name.endswith("_ratio") and "rate(" in expression:
        return Unit("ratio", 1.0, "")
    if name.endswith("_usd"):
        return Unit("USD", 1.0, "", "$")
    if name.endswith("_ratio"):
        return Unit("percent", 100.0, "%")
    if name.endswith("_seconds"):
        return Unit("seconds", 1.0, " s")
    if name.endswith("_bytes"):
        return Unit("bytes", 1.0, " B")
    if name.endswith("_total") and "rate(" in expression:
        return Unit("per second", 1.0, "/s")
    if name.endswith("_total") and "increase(" in expression:
        return Unit("count", 1.0, "")
    return Unit("value", 1.0, "")


def _tick(unit: Unit) -> FuncFormatter:
    def show(value: float, _position: int) -> str:
        magnitude = abs(value)
        text = f"{value:,.0f}" if magnitude >= 100 else f"{value:,.3g}"
        return f"{unit.prefix}{text}{unit.suffix}"

    return FuncFormatter(show)


def _name(series: Series, others: list[Series]) -> str:
    """The labels that tell this series from the others (its metric name if none)."""
    keys = sorted({k for s in others for k in s.labels if k != "__name__"})
    varying = [k for k in keys if len({s.labels.get(k) for s in others}) > 1]
    shown = [f"{k}={series.labels.get(k, '')}" for k in varying[:3]]
    return ", ".join(shown) or series.labels.get("__name__", "value")


def _times(values: list[float]) -> list[float]:
    """Unix seconds as matplotlib's date numbers."""
    return [float(date2num(datetime.fromtimestamp(t, UTC))) for t in values]


def render(
    *,
    title: str,
    subtitle: str,
    series: list[Series],
    threshold: list[Series] | float | None,
    fired_at: datetime,
    unit: Unit,
    start: datetime,
    end: datetime,
) -> bytes:
    """The PNG of one graph snapshot."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    shown = series[:MAX_LINES]
    sparse = max(len(item.times) for item in shown) < SPARSE_POINTS
    for index, item in enumerate(shown):
        axes.plot(
            _times(item.times),
            [v * unit.scale for v in item.values],
            color=LINE_COLOURS[index % len(LINE_COLOURS)],
            linewidth=2.4,
            marker="o" if sparse else None,
            label=_name(item, shown),
        )
    if isinstance(threshold, float):
        axes.axhline(
            threshold * unit.scale,
            color=THRESHOLD_COLOUR,
            linestyle="--",
            linewidth=2,
            label=f"threshold {_tick(unit)(threshold * unit.scale, 0)}",
        )
    elif threshold:
        line = threshold[0]
        axes.step(
            _times(line.times),
            [v * unit.scale for v in line.values],
            where="post",
            color=THRESHOLD_COLOUR,
            linestyle="--",
            linewidth=2,
            label=f"threshold (now {_tick(unit)(line.values[-1] * unit.scale, 0)})"
            if line.values
            else "threshold",
        )
    # From the window's start, or from the first sample when the series began later (a new
    # exporter): an empty half of a picture tells nothing.
    first = min((t for item in shown for t in item.times[:1]), default=start.timestamp())
    first = min(first, fired_at.timestamp(), end.timestamp() - MIN_SPAN_SECONDS)
    span = end.timestamp() - first
    begin = max(start, datetime.fromtimestamp(first - span * 0.05, UTC))
    fired_at = fired_at.astimezone(UTC)  # labelled on the UTC axis, whatever zone it came in
    fired, left, right = (float(date2num(t)) for t in (fired_at, begin, end))
    axes.axvline(fired, color=FIRING_COLOUR, linewidth=2)
    axes.axvspan(fired, right, color=FIRING_COLOUR, alpha=0.07)
    late = (fired_at - begin) > 0.7 * (end - begin)  # the label goes left of the line
    axes.annotate(
        f"fired {fired_at:%H:%M:%S}",
        xy=(fired, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-6 if late else 6, -18),
        textcoords="offset points",
        ha="right" if late else "left",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5},
        color=FIRING_COLOUR,
        fontsize=14,
        fontweight="bold",
    )
    axes.set_xlim(left, right)
    axes.xaxis.set_major_locator(AutoDateLocator(minticks=4, maxticks=7))
    seconds = (begin.timestamp(), end.timestamp())
    short = seconds[1] - seconds[0] < 15 * 60  # minutes alone would repeat
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M:%S" if short else "%H:%M", tz=UTC))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=6))
    axes.yaxis.set_major_formatter(_tick(unit))
    axes.tick_params(labelsize=14)
    axes.set_xlabel("time (UTC)", fontsize=14)
    axes.set_ylabel(unit.axis, fontsize=14)
    axes.grid(True, alpha=0.3)
    axes.set_title(subtitle, fontsize=12, loc="left", color="#555555")
    figure.suptitle(title, fontsize=17, fontweight="bold", x=0.01, ha="left")
    extra = len(series) - len(shown)
    handles, labels = axes.get_legend_handles_labels()
    if extra > 0:
        labels[len(shown) - 1] += f" (+{extra} more series)"
    axes.legend(handles, labels, fontsize=12, loc="best", framealpha=0.85)
    # Fixed margins, not tight_layout: the same layout every time, and nothing a crowded
    # picture can refuse (tight_layout warns, and warnings are process-wide state).
    figure.subplots_adjust(left=0.115, right=0.965, top=0.86, bottom=0.12)
    drawn = io.BytesIO()
    figure.savefig(drawn, format="png", dpi=DPI)
    return _small(drawn)


def _small(drawn: io.BytesIO) -> bytes:
    """The PNG with a palette of its own colours (Pillow, matplotlib's own dependency): the
    same picture in about half the bytes, for a phone on mobile data."""
    drawn.seek(0)
    with Image.open(drawn) as picture:
        fewer = picture.convert("RGB").quantize(colors=PALETTE, method=Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        fewer.save(out, format="PNG")
    return out.getvalue()
