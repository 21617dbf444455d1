"""Reading the series to draw: one bounded ``query_range`` per expression.

Every failure becomes ``Unavailable`` with a note safe to store and show: it never quotes
the URL (``PROMETHEUS_URL`` may carry credentials) nor an exception's text.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

MAX_SERIES = 500  # more than this from one query: the rest is not read
MAX_BYTES = 16 * 2**20  # a larger answer (thousands of series) is refused, not parsed


class Unavailable(Exception):
    """Prometheus could not give the series; ``str()`` is the note shown instead."""


@dataclass(frozen=True, slots=True)
class Series:
    labels: dict[str, str]
    times: list[float]  # unix seconds
    values: list[float]


def query_range(
    client: httpx.Client,
    base_url: str,
    expression: str,
    start: datetime,
    end: datetime,
    step_seconds: float,
    timeout_seconds: float,
) -> list[Series]:
    """The expression's series over [start, end], read within ``timeout_seconds`` in all and
    at most MAX_BYTES of answer; raises Unavailable."""
    deadline = time.monotonic() + timeout_seconds
    late = Unavailable(f"Prometheus did not answer within {timeout_seconds:g} s")
    chunks: list[bytes] = []
    try:
        with client.stream(
            "GET",
            f"{base_url.rstrip('/')}/api/v1/query_range",
            params={
                "query": expression,
                "start": f"{start.timestamp():.3f}",
                "end": f"{end.timestamp():.3f}",
                "step": f"{step_seconds:g}",
                "timeout": f"{timeout_seconds:g}s",
            },
            timeout=timeout_seconds,
        ) as response:
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise Unavailable(
                        f"Prometheus answered over {MAX_BYTES // 2**20} MB (too many series)"
                    )
                if time.monotonic() > deadline:
                    raise late
                chunks.append(chunk)
            status = response.status_code
    except httpx.TimeoutException:
        raise late from None
    except httpx.HTTPError as exc:
        raise Unavailable(f"Prometheus unreachable ({type(exc).__name__})") from None
    try:
        body = json.loads(b"".join(chunks))
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if status != 200 or body.get("status") != "success":
        error = str(body.get("error", ""))[:200]
        raise Unavailable(f"Prometheus answered {status}" + (f": {error}" if error else ""))
    result = body.get("data", {}).get("result", [])
    series = []
    for item in result[:MAX_SERIES]:
        points = [(float(t), float(v)) for t, v in item.get("values", [])]
        series.append(
            Series(
                labels={k: str(v) for k, v in item.get("metric", {}).items()},
                times=[t for t, _ in points],
                values=[v for _, v in points],
            )
        )
    return series


def matching(series: list[Series], labels: dict[str, str]) -> list[Series]:
    """The alert's own series among the rule's: those that agree with every label the alert
    also has (a threshold's own ``threshold`` label is not the alert's); all of them when
    none agrees (the expression renamed or dropped the labels)."""
    own = [
        s
        for s in series
        if all(labels[k] == v for k, v in s.labels.items() if k in labels and k != "__name__")
    ]
    return own or series
