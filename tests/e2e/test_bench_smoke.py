"""`make bench` runs to the end: every benchmark at its smallest sizes fills every row of the
summary table, and one benchmark that cannot measure does not stop the next.

The figures of a smoke run are not judged (tiny sizes on a shared machine mean nothing);
that each row was measured, with its comparison, is.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench import __main__ as runner
from bench import report
from bench.common import Bench, Figure, Row, Stat
from tests.support import REPO

SMOKE_TIMEOUT = 240  # s; the smoke run takes about 40 s on a 2-core machine


@pytest.mark.e2e
def test_every_benchmark_fills_every_row_of_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its own session: on a timeout, SIGINT lets the benches' `finally` stop what they started.
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=SMOKE_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        pytest.fail(f"python -m bench --smoke took over {SMOKE_TIMEOUT}s:\n{output[-6000:]}")
    assert proc.returncode == 0, output[-6000:]

    record = json.loads((tmp_path / "bench-latest-smoke.json").read_text())
    promised = [figure.key for bench in runner.BENCHES for figure in bench.figures]
    assert [row["key"] for row in record["rows"]] == promised
    for row in record["rows"]:
        where = f"{row['key']}: {row}"
        assert row["error"] is None, where
        assert row["measured"] and all(s["value"] > 0 for s in row["measured"]), where
        assert row["comparison_name"], where
        assert row["comparison"] and all(s["value"] > 0 for s in row["comparison"]), where
        assert row["ratio"] is not None and row["ratio"] > 0, where
        assert row["met"] in (True, False), where
        assert row["command"].startswith(".venv/bin/python -m bench."), where
    assert record["smoke"] is True
    assert record["machine"]["cpus"] and record["machine"]["cpu_model"]
    assert record["git_commit"] and record["date"]
    # the table as printed: a header and one line per row
    assert "| figure" in output
    assert sum(line.startswith("| ") for line in output.splitlines()) >= len(promised) + 1
    # and the record prints the same table again, to compare runs
    report.main([str(tmp_path / "bench-latest-smoke.json")])
    again = capsys.readouterr().out
    assert report.table(report.rows_from(record)) in again
    assert report.table(report.rows_from(record)) in output


def _fake(name: str, key: str, run: object) -> Bench:
    return Bench(
        name=name,
        figures=[Figure(key, f"{name} figure", "a goal")],
        parser=argparse.ArgumentParser,
        run=run,  # type: ignore[arg-type]
        smoke=[],
    )


def test_a_bench_that_cannot_measure_says_why_and_the_next_one_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: argparse.Namespace) -> list[Row]:
        raise AssertionError("no matching Telegram message within 30s")

    def fine(args: argparse.Namespace) -> list[Row]:
        row = Figure("fine", "fine figure", "a goal").row("cmd", measured=[Stat("p50", 1, "ms")])
        return [row]

    monkeypatch.setattr(
        runner, "BENCHES", (_fake("broken", "broken", broken), _fake("fine", "fine", fine))
    )
    assert runner.main(["--out", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert "bench.broken could not measure: no matching Telegram message within 30s" in out.out
    assert "NOT MEASURED: AssertionError: no matching Telegram message" in out.out
    assert "p50 1.00 ms" in out.out  # the next bench ran and its row is in the table
    assert "NOT MEASURED: broken" in out.err
    rows = json.loads((tmp_path / "bench-latest.json").read_text())["rows"]
    assert [(r["key"], r["error"] is None) for r in rows] == [("broken", False), ("fine", True)]
