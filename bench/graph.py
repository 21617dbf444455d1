"""The graph snapshot: how long drawing one takes and how large its photo is.

Draws the picture a P0 gets (one series of 300 points over 30 minutes with its threshold)
and a busy one (six series and a threshold series), each ``--rounds`` times, as the graph
worker does (matplotlib, Agg backend). Goals: p95 ≤ 500 ms per picture on a 2-core machine,
so a photo follows its page within seconds, and ≤ 150 KB per photo, so it loads at once on a
phone on mobile data (Telegram takes photos up to 10 MB).

    .venv/bin/python -m bench.graph [--rounds 30]
"""

from __future__ import annotations

import argparse
import io
import math
import random
import time
from datetime import UTC, datetime, timedelta

from matplotlib import figure as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg

from bench.common import Bench, Figure, Row, Stat, command, percentile, standalone
from receiver.graphs.prometheus import Series
from receiver.graphs.render import render, unit_of

RENDER = Figure("graph_render", "graph snapshot, time to draw", "p95 ≤ 500 ms")
SIZE = Figure("graph_size", "graph snapshot, photo size", "≤ 150 KB")
END = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
START = END - timedelta(minutes=30)
POINTS = 300


def _walk(rng: random.Random, base: float, spread: float) -> list[float]:
    value, values = base, []
    for i in range(POINTS):
        value += rng.gauss(0, spread) + (spread * 0.4 if i > POINTS * 0.8 else 0)
        values.append(value)
    return values


def _times() -> list[float]:
    step = (END - START).total_seconds() / POINTS
    return [START.timestamp() + step * i for i in range(POINTS)]


def pictures(rng: random.Random) -> dict[str, dict[str, object]]:
    times = _times()
    loss = Series(
        {"__name__": "d75_riskguard_global_daily_loss_usd"}, times, _walk(rng, 42_000, 300)
    )
    busy = [
        Series({"exchange": f"ex{n}"}, times, [abs(v) for v in _walk(rng, 0.4, 0.02)])
        for n in range(6)
    ]
    limit = Series(
        {"threshold": "t"}, times, [0.6 + 0.05 * math.sin(i / 40) for i in range(POINTS)]
    )
    return {
        "P0 (one series, threshold)": dict(
            series=[loss], threshold=50_000.0, unit=unit_of("d75_riskguard_global_daily_loss_usd")
        ),
        "busy (six series, threshold series)": dict(
            series=busy, threshold=[limit], unit=unit_of("d75_crosssync_imbalance_ratio")
        ),
    }


def bare(picture: dict[str, object]) -> bytes:
    """The reference: the same series as a bare matplotlib line plot saved as a PNG (no
    threshold, marks, units, legend or palette)."""
    figure = mpl.Figure()
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for line in picture["series"]:  # type: ignore[attr-defined]
        axes.plot(line.times, line.values)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.graph",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=30)
    return parser


def run(args: argparse.Namespace) -> list[Row]:
    rng = random.Random(76)
    timings: list[float] = []
    references: list[float] = []
    sizes: list[int] = []
    print(f"{args.rounds} pictures of each kind, {POINTS} points per series, 1000×560 px")
    for name, picture in pictures(rng).items():
        mine: list[float] = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            png = render(
                title="[P0] GlobalGuard BLOCK",
                subtitle="d75_riskguard_global_daily_loss_usd > 50000",
                fired_at=END - timedelta(minutes=4),
                start=START,
                end=END,
                **picture,  # type: ignore[arg-type]
            )
            mine.append((time.perf_counter() - started) * 1000)
            sizes.append(len(png))
            started = time.perf_counter()
            bare(picture)
            references.append((time.perf_counter() - started) * 1000)
        timings += mine
        print(
            f"  {name:<38} p50 {percentile(mine, 50):6.1f} ms  p95 {percentile(mine, 95):6.1f} ms"
            f"  {len(png) / 1024:6.1f} KB"
        )
    p50, p95 = percentile(timings, 50), percentile(timings, 95)
    reference = percentile(references, 95)
    largest = max(sizes) / 1024
    print(f"\nall: p50 {p50:.1f} ms, p95 {p95:.1f} ms; largest photo {largest:.1f} KB")
    print(f"a bare matplotlib line plot of the same points: p95 {reference:.1f} ms")
    reproduce = command("bench.graph", parser(), args)
    return [
        RENDER.row(
            reproduce,
            measured=[Stat("p95", p95, "ms"), Stat("p50", p50, "ms")],
            comparison_name="bare matplotlib line plot, same points",
            comparison=[Stat("p95", reference, "ms")],
            met=p95 <= 500,
        ),
        SIZE.row(
            reproduce,
            measured=[Stat("largest", largest, "KB")],
            comparison_name="Telegram's photo limit",
            comparison=[Stat("", 10 * 1024, "KB")],
            met=largest <= 150,
        ),
    ]


BENCH = Bench(name="graph", figures=[RENDER, SIZE], parser=parser, run=run, smoke=["--rounds", "2"])

if __name__ == "__main__":
    standalone(BENCH)
