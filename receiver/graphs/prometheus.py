"""Reading the series to draw: one bounded ``query_range`` per expression.

Every failure becomes ``Unavailable`` with a note safe to store and show: it never quotes
the URL (``PROMETHEUS_URL`` may carry credentials) nor an exception's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

MAX_SERIES = 500  # more than this from one query: the rest is not read


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
    """The expression's series over [start, end]; raises Unavailable."""
    try:
        response = client.get(
            f"{base_url.rstrip('/')}/api/v1/query_range",
            params={
                "query": expression,
                "start": f"{start.timestamp():.3f}",
                "end": f"{end.timestamp():.3f}",
                "step": f"{step_seconds:g}",
                "timeout": f"{timeout_seconds:g}s",
            },
            timeout=timeout_seconds,
        )
    except httpx.TimeoutException:
        raise Unavailable(f"Prometheus did not answer within {timeout_seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise Unavailable(f"Prometheus unreachable ({type(exc).__name__})") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or body.get("status") != "success":
        error = str(body.get("error", ""))[:200] if isinstance(body, dict) else ""
        raise Unavailable(
            f"Prometheus answered {response.status_code}" + (f": {error}" if error else "")
        )
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
