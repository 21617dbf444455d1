"""The summary table (Markdown, so the docs can quote it as printed) and its JSON record.

    .venv/bin/python -m bench.report [RECORD.json ...]

prints the summary line and the table of recorded runs (default: the latest full run,
.d76/bench/bench-latest.json), to compare runs or to copy a run's figures into the docs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Row, Stat
from stack.render import REPO

HEADER = ("figure", "goal", "measured", "same run: comparison", "ratio", "reproduce")


def _ratio(row: Row) -> str:
    ratio = row.ratio
    if ratio is None:
        return "—"
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.0f}×"


def _cells(row: Row) -> tuple[str, ...]:
    goal = row.goal + ("" if row.met is None else " ✓" if row.met else " ✗")
    if row.error is not None:
        measured = f"NOT MEASURED: {row.error}"
    else:
        measured = " · ".join(str(s) for s in row.measured) or "NOT MEASURED"
        if row.note:
            measured += f" ({row.note})"
    if row.comparison_name:
        values = " · ".join(str(s) for s in row.comparison) or "not measured"
        comparison = f"{row.comparison_name}: {values}"
    else:
        comparison = "—"
    return (row.figure, goal, measured, comparison, _ratio(row), f"`{row.command}`")


def table(rows: Sequence[Row]) -> str:
    lines = [_cells(row) for row in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(HEADER, *lines, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(cells) for cells in lines]
    return "\n".join(out)


def print_table(rows: Sequence[Row]) -> None:
    print(table(rows))
    print(
        "ratio = measured ÷ comparison, first number of each (latency: >1 is slower than the "
        "comparison; throughput: <1 is fewer per second); goal ✓ met, ✗ missed"
    )


def _first_line(argv: Sequence[str]) -> str:
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    meminfo = Path("/proc/meminfo")
    memory = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read_text() if meminfo.exists() else "")
    from stack.postgres import pg_bin

    try:
        postgres = _first_line([pg_bin("postgres"), "--version"])
    except RuntimeError:
        postgres = "unknown"
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor() or "unknown",
        "memory_gib": round(int(memory.group(1)) / 1024 / 1024, 1) if memory else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "prometheus": _first_line(["prometheus", "--version"]),
        "alertmanager": _first_line(["prometheus-alertmanager", "--version"]),
        "postgres": postgres,
    }


def git_commit() -> str:
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return commit + ("+uncommitted changes" if dirty else "")


def record(
    rows: Sequence[Row], *, started: datetime, seconds: float, smoke: bool, argv: Sequence[str]
) -> dict[str, Any]:
    return {
        "date": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "smoke": smoke,
        "command": " ".join(argv),
        "git_commit": git_commit(),
        "machine": machine(),
        "rows": [row.as_json() for row in rows],
    }


def write(data: dict[str, Any], folder: Path) -> Path:
    """``<folder>/<timestamp>.json`` and ``<folder>/bench-latest.json`` (a smoke run:
    ``…-smoke.json`` and ``bench-latest-smoke.json``); returns the first."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-smoke" if data.get("smoke") else ""
    path = folder / f"{stamp}{suffix}.json"
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text)
    (folder / f"bench-latest{suffix}.json").write_text(text)
    return path


def summary_line(data: dict[str, Any]) -> str:
    """When, where and how busy: the line above every table."""
    machine, load = data["machine"], data.get("load_average_1min") or {}
    when = datetime.fromisoformat(data["date"]).astimezone(UTC)
    line = (
        f"{when:%Y-%m-%d %H:%M} UTC, {machine['cpus']} × {machine['cpu_model']}, "
        f"{machine['memory_gib']} GiB, commit {data['git_commit'][:12]}"
    )
    if load:
        line += f", load average {load['start']:.1f} at the start, {load['end']:.1f} at the end"
    return line


def rows_from(data: dict[str, Any]) -> list[Row]:
    fields = ("key", "figure", "goal", "command", "comparison_name", "met", "note", "error")
    return [
        Row(
            **{name: row[name] for name in fields},
            measured=[Stat(**s) for s in row["measured"]],
            comparison=[Stat(**s) for s in row["comparison"]],
        )
        for row in data["rows"]
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "records", nargs="*", type=Path, default=[REPO / ".d76" / "bench" / "bench-latest.json"]
    )
    for path in parser.parse_args(argv).records:
        data = json.loads(path.read_text())
        smoke = " (smoke sizes)" if data.get("smoke") else ""
        print(f"{path}: {summary_line(data)}; took {data['seconds']:.0f}s{smoke}\n")
        print_table(rows_from(data))
        print()


if __name__ == "__main__":
    main()
