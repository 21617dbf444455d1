"""The receiver under gunicorn with several workers: /metrics counts the receiver's requests
whichever worker served them and whichever answers the scrape; a worker that dies and is
replaced keeps its counts and leaves the live-worker gauge right; delivery totals are the
database's, the same in every worker."""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from receiver import store
from receiver.web.metrics import DeliveryStateCollector
from receiver.webhook_parser import parse
from stack.procs import ManagedProcess, http_ok
from tests.support import REPO
from tests.support.database import query
from tests.support.payloads import alert, payload
from tests.support.ports import free_port

WORKERS = 2


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from a previous run")
    proc = ManagedProcess(
        "receiver",
        [sys.executable, "-m", "receiver", "serve", "--workers", str(WORKERS), "--threads", "4"],
        tmp_path / "receiver.log",
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "RECEIVER_PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "D76_CONFIG_DIR": str(REPO / "config"),
        },
        cwd=REPO,
    )
    proc.start()
    try:
        proc.wait_ready(http_ok(f"http://127.0.0.1:{port}/readyz"), 30)
        yield f"http://127.0.0.1:{port}", metrics_dir
    finally:
        proc.stop()


def _post(url: str, index: int) -> int:
    body = json.dumps(payload(alert(fingerprint=f"{index:016x}"))).encode()
    request = urllib.request.Request(
        f"{url}/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # a new connection each
        return int(response.status)


def _scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        match = re.match(r"^([a-z0-9_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if match:
            samples[match.group(1)] = float(match.group(2))
    return samples


def _requests_by_worker(metrics_dir: Path) -> dict[int, float]:
    """Webhook requests each worker counted, from its own file."""
    counted: dict[int, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for family in MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if sample.name == "d76_receiver_webhook_requests_total":
                    counted[pid] = counted.get(pid, 0) + sample.value
    return counted


def test_metrics_sum_every_worker_whichever_answers(served: tuple[str, Path]) -> None:
    url, metrics_dir = served
    posted = 0
    with ThreadPoolExecutor(8) as pool:
        for _ in range(10):  # until both workers have served webhooks (the kernel chooses)
            assert set(pool.map(lambda i: _post(url, i), range(posted, posted + 40))) == {200}
            posted += 40
            if len([n for n in _requests_by_worker(metrics_dir).values() if n]) == WORKERS:
                break
    served_by = _requests_by_worker(metrics_dir)
    assert len([n for n in served_by.values() if n]) == WORKERS, served_by
    assert 999999 not in served_by, "the directory was not emptied at start"
    for _ in range(6):  # scrapes land on either worker; each sums both
        samples = _scrape(url)
        assert samples.get('d76_receiver_webhook_requests_total{code="200"}') == posted, samples
        assert samples['d76_receiver_alerts_received_total{status="firing"}'] == posted
        assert samples["d76_receiver_notifications_queued_total"] == 2 * posted
        assert samples["d76_receiver_web_workers"] == WORKERS
        # the database's view, read once per scrape by the worker that answers
        assert samples['d76_receiver_notifications{state="queued",target="telegram"}'] == posted


def test_a_replaced_worker_keeps_its_counts_and_the_live_gauge_stays_right(
    served: tuple[str, Path],
) -> None:
    url, metrics_dir = served
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda i: _post(url, i), range(40))) == {200}
    victim = max(_requests_by_worker(metrics_dir).items(), key=lambda item: item[1])[0]
    os.kill(victim, 9)
    deadline = time.monotonic() + 30
    samples: dict[str, float] = {}
    while time.monotonic() < deadline:
        pids = {int(p.stem.split("_")[-1]) for p in metrics_dir.glob("gauge_livesum_*.db")}
        if victim not in pids and len(pids) == WORKERS:
            samples = _scrape(url)
            break
        time.sleep(0.2)
    assert samples, "gunicorn did not replace the killed worker within 30 s"
    assert samples["d76_receiver_web_workers"] == WORKERS
    assert samples['d76_receiver_webhook_requests_total{code="200"}'] == 40


def _delivery_samples(database_url: str) -> dict[tuple[str, ...], float]:
    @contextmanager
    def connection() -> Iterator[psycopg2.extensions.connection]:
        conn = psycopg2.connect(database_url)
        try:
            yield conn
        finally:
            conn.close()

    registry = CollectorRegistry()
    registry.register(DeliveryStateCollector(connection))
    return {
        (s.name, *sorted(s.labels.values())): s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == "d76_receiver_delivery_retries_total" or s.labels.get("state") == "sent"
    }


def test_delivery_totals_are_the_databases_in_every_worker_even_after_prune(
    database_url: str,
) -> None:
    conn = store.connect(database_url)
    try:
        store.ingest(conn, parse(payload(alert())), ["telegram"])
    finally:
        conn.close()
    query(
        database_url,
        """INSERT INTO notification_attempt (notification_id, alert_ts, attempted_at, outcome,
                                             duration_ms)
           SELECT id, alert_ts, now() - interval '1 hour', o, 5 FROM notification,
                  unnest(ARRAY['retry', 'retry', 'sent']) o""",
    )
    first = _delivery_samples(database_url)  # a worker that started before the prune
    assert first[("d76_receiver_notifications", "sent", "telegram")] == 1
    assert first[("d76_receiver_delivery_retries_total", "telegram")] == 2
    assert _delivery_samples(database_url) == first  # a second worker, the same totals
    query(database_url, "TRUNCATE alert_history, notification, notification_attempt")  # prune
    assert _delivery_samples(database_url) == first  # a worker started after it
