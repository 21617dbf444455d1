"""The daily report's PDF: three pages that open, drawn from the same day as the CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pypdfium2

from receiver.delivery.daily_summary import render
from receiver.delivery.report_pdf import report_pdf
from receiver.store import DaySummary

COLUMNS = (
    "id", "timestamp", "severity", "source", "alertname", "title", "status", "ends_at",
    "acknowledged", "acknowledged_at", "acknowledged_by", "labels",
)  # fmt: skip


def summary(alerts: int) -> DaySummary:
    start = datetime(2026, 11, 23, tzinfo=UTC)
    rows: list[tuple[Any, ...]] = []
    for i in range(alerts):
        at = start + timedelta(hours=i % 24, minutes=i)
        severity = ("P0", "P1", "P2", "P3")[i % 4]
        acked = at + timedelta(minutes=3) if i % 2 == 0 else None
        ends = at + timedelta(minutes=20)
        rows.append((i, at, severity, "RiskGuard", f"Rule{i % 5}", "t", "resolved",
                     ends, acked is not None, acked, "alice", {}))  # fmt: skip
    by_severity = [(s, sum(1 for r in rows if r[2] == s)) for s in ("P0", "P1", "P2", "P3")]
    return DaySummary(
        day=date(2026, 11, 23),
        total=alerts,
        by_severity=[p for p in by_severity if p[1]],
        by_source=[("RiskGuard", alerts)] if alerts else [],
        noisiest=[(f"Rule{k}", "P1", alerts // 5) for k in range(5)] if alerts else [],
        urgent=[],
        rows=rows,
        columns=COLUMNS,
    )


def pages_as_images(pdf: bytes) -> list[tuple[int, int, int]]:
    """(width, height, distinct colours) of each page rendered at 72 dpi."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        out = []
        for page in document:
            image = page.render(scale=1).to_pil()
            out.append((image.width, image.height, len(image.getcolors(maxcolors=1 << 16) or [])))
        return out
    finally:
        document.close()


def test_the_pdf_has_three_landscape_pages_with_charts() -> None:
    pdf = report_pdf(summary(60))
    assert pdf.startswith(b"%PDF")
    pages = pages_as_images(pdf)
    assert len(pages) == 3
    for width, height, colours in pages:
        assert (width, round(height, -1)) == (842, 600)  # A4 landscape at 72 dpi (595.3 pt)
        assert colours > 5, "a page with a chart, not a blank one"


def test_an_empty_day_still_makes_a_pdf_that_opens() -> None:
    assert len(pages_as_images(report_pdf(summary(0)))) == 3


def test_the_same_day_is_the_same_pdf_and_it_rides_beside_the_csv() -> None:
    day = summary(12)
    assert report_pdf(day) == report_pdf(day)  # no creation date: a resend is identical
    attachments = render(day).body["attachments"]  # type: ignore[index]
    assert set(attachments) == {"d75-alerts-2026-11-23.csv", "d75-alerts-2026-11-23.pdf"}
    content, mime = attachments["d75-alerts-2026-11-23.pdf"]
    assert mime == "application/pdf" and content.startswith(b"%PDF")
