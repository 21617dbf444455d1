"""The graph worker: a thread beside each dispatcher that draws the queued graph snapshots.

It claims one graph at a time under a lease, reads the alert's expression and threshold
from Prometheus (each query bounded by ``graphs.timeout_seconds``), draws the PNG and stores
it; storing queues the photo behind the alert's page. Whatever fails, the graph is skipped
with a note and never retried beyond ``graphs.max_attempts``; the dispatcher's own loop,
and so every page, never waits on it.
"""

from __future__ import annotations

import logging
import math
import os
import select
import socket
import threading
import time
from datetime import datetime, timedelta

import httpx

from receiver.config import Settings
from receiver.graphs import expression as expr
from receiver.graphs import render
from receiver.graphs.prometheus import Series, Unavailable, matching, query_range
from receiver.store import db, graphs
from receiver.store.graphs import GraphJob

log = logging.getLogger("d76.graphs")

MAX_POINTS = 300  # samples per series: smooth at the picture's width, cheap to query
LONGEST = timedelta(hours=6)  # the widest picture (an alert paged long after it started)


def window(job: GraphJob, minutes: float) -> tuple[datetime, datetime, float]:
    """(start, end, step in seconds): ``minutes`` before the start until now."""
    end = job.now
    start = min(job.starts_at, end) - timedelta(minutes=minutes)
    start = max(start, end - LONGEST)
    step = max(1.0, round((end - start).total_seconds() / MAX_POINTS))
    # Counted back from the end, so the newest moment is always one of the points.
    points = math.ceil((end - start).total_seconds() / step)
    return end - timedelta(seconds=points * step), end, step


def one_line(text: str, limit: int = 95) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class GraphWorker:
    """Draws graphs until stopped; run one per dispatcher (they share the queue safely)."""

    def __init__(self, dsn: str, settings: Settings, name: str | None = None) -> None:
        self._settings = settings.graphs
        self._dsn = dsn
        self._prometheus = settings.prometheus_url
        # Channel kinds that take a picture: Telegram; Slack in app mode (a file upload into
        # the page's thread; an incoming webhook cannot upload).
        self._photo_kinds = ("telegram", "slack") if settings.slack.app_mode else ("telegram",)
        self.name = name or f"graphs:{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The environment's proxies are not for the Prometheus beside the receiver.
        self._client = httpx.Client(trust_env=False, follow_redirects=False)

    # -- one graph ---------------------------------------------------------------------------

    def _series(
        self, expression: str, job: GraphJob, span: tuple[datetime, datetime, float]
    ) -> list[Series]:
        start, end, step = span
        found = query_range(
            self._client, self._prometheus, expression, start, end, step,
            self._settings.timeout_seconds,
        )  # fmt: skip
        return matching(found, job.labels)

    def draw(self, job: GraphJob) -> tuple[bytes, str, str | None]:
        """The PNG, the expression drawn and its threshold; raises Unavailable (the note)."""
        whole = expr.from_generator_url(job.generator_url)
        if whole is None:
            raise Unavailable("the alert carries no expression (its generatorURL has none)")
        condition = expr.split(whole)
        span = window(job, self._settings.window_minutes)
        series = self._series(condition.series, job, span)
        if not series or not any(s.values for s in series):
            raise Unavailable("Prometheus has no samples of the expression in the window")
        threshold: list[Series] | float | None = None
        if expr.is_number(condition.threshold):
            assert condition.threshold is not None
            threshold = float(condition.threshold)
        elif condition.threshold is not None:
            try:
                threshold = self._series(condition.threshold, job, span) or None
            except Unavailable as exc:  # the series alone still tells most of the story
                log.warning("graph for alert %s: threshold not drawn: %s", job.alert_id, exc)
        start, end, _ = span
        png = render.render(
            title=one_line(f"[{job.severity}] {job.title}", 70),
            subtitle=one_line(whole),
            series=series,
            threshold=threshold,
            fired_at=job.starts_at,
            unit=render.unit_of(condition.series),
            start=start,
            end=end,
        )
        return png, condition.series, condition.threshold

    def draw_one(self, conn: db.Connection) -> bool:
        """Claim, draw and store one graph; False when none waits."""
        s = self._settings
        job = graphs.claim(
            conn, owner=self.name, lease_seconds=s.lease_seconds, max_attempts=s.max_attempts
        )
        if job is None:
            return False
        started = time.monotonic()
        try:
            png, drawn, threshold = self.draw(job)
        except Unavailable as exc:
            elapsed = int((time.monotonic() - started) * 1000)
            graphs.skipped(conn, job, str(exc), render_ms=elapsed)
            log.warning("graph for alert %s skipped: %s", job.alert_id, exc)
            return True
        except Exception as exc:  # a bug in drawing must not stop the next graph
            log.exception("graph for alert %s: unexpected error", job.alert_id)
            graphs.skipped(conn, job, f"could not draw it ({type(exc).__name__})")
            return True
        elapsed = int((time.monotonic() - started) * 1000)
        queued = graphs.done(
            conn, job, png=png, expression=drawn, threshold=threshold, render_ms=elapsed,
            photo_within_seconds=s.photo_within_seconds, photo_kinds=self._photo_kinds,
        )  # fmt: skip
        if queued is None:
            log.warning("graph for alert %s drawn after its lease was lost", job.alert_id)
        else:
            log.info("graph for alert %s drawn in %d ms (%d bytes), %d photo(s) queued",
                     job.alert_id, elapsed, len(png), queued)  # fmt: skip
        return True

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Draw until stopped; woken by the outbox's NOTIFY, else every poll_seconds."""
        errors = 0
        work: db.Connection | None = None
        listener: db.Connection | None = None
        while not self._stop.is_set():
            try:
                if work is None or listener is None:
                    work, listener = db.connect(self._dsn), db.connect(self._dsn)
                    db.listen(listener)
                if self.draw_one(work):
                    continue
                due = graphs.seconds_until_due(work)
                timeout = self._settings.poll_seconds if due is None else due
                timeout = min(timeout, self._settings.poll_seconds)
                ready, _, _ = select.select([listener], [], [], timeout)
                if ready:
                    listener.poll()
                    listener.notifies.clear()
                errors = 0
            except Exception as exc:
                errors += 1
                pause = min(30.0, 0.5 * 2 ** min(errors, 6))
                if isinstance(exc, db.UNAVAILABLE):
                    log.warning("graphs: database unavailable; retrying in %.0fs", pause)
                else:
                    log.exception("graphs: error; retrying in %.0fs", pause)
                for conn in (work, listener):
                    if conn is not None and not conn.closed:
                        conn.close()
                work = listener = None
                self._stop.wait(pause)
        for conn in (work, listener):
            if conn is not None and not conn.closed:
                conn.close()
        self._client.close()

    def start(self) -> GraphWorker:
        self._thread = threading.Thread(target=self.run, name="graphs", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
