"""Hooks run inside the trading engine: they must never raise into it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec

from prometheus_client import Counter

log = logging.getLogger("d76.exporter")
P = ParamSpec("P")


def guarded(func: Callable[P, None], errors: Counter, hook: str) -> Callable[P, None]:
    """``func`` that swallows any exception, counts it, and logs the first one."""
    counter = errors.labels(hook)
    logged = False

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        nonlocal logged
        try:
            func(*args, **kwargs)
        except Exception:
            counter.inc()
            if not logged:
                logged = True
                log.exception("d75 hook %s failed (counted; later failures not logged)", hook)

    return wrapper
