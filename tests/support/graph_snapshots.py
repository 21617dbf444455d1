"""Graph snapshots for the history page's tests: a real PNG drawn by matplotlib, and an
``alert_graph`` row stored for an alert as the graph worker leaves it."""

from __future__ import annotations

import io
import struct

import psycopg2
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def draw_png(width: int = 300, height: int = 150) -> bytes:
    """A PNG of ``width`` × ``height`` pixels: a series crossing its threshold."""
    figure = Figure(figsize=(width / 100, height / 100), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot([0, 1, 2, 3], [52_000, 54_000, 55_000, 55_500])
    axes.axhline(50_000, color="#D00000")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    return out.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the PNG's header; AssertionError if it is not a PNG."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR", "no IHDR chunk first"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def store_graph(url: str, alert_id: int, state: str, **columns: object) -> None:
    """The alert's ``alert_graph`` row in ``state`` with ``columns`` (``png`` as bytes)."""
    if isinstance(columns.get("png"), bytes):
        columns["png"] = psycopg2.Binary(columns["png"])
    names = ", ".join(["alert_id", "alert_ts", "state", *columns])
    marks = ", ".join(["%s"] * (1 + len(columns)))
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO alert_graph ({names}) "
                f"SELECT id, timestamp, {marks} FROM alert_history WHERE id = %s",
                (state, *columns.values(), alert_id),
            )
            assert cur.rowcount == 1, f"no alert {alert_id}"
    finally:
        conn.close()
