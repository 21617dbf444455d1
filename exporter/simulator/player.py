"""Plays one scenario at a time on a background thread; a new one replaces the old."""

from __future__ import annotations

import logging
import threading
import time

from exporter.facade import D75Exporter
from exporter.simulator.scenarios import SCENARIOS, Scenario

log = logging.getLogger("d76.simulator")


class Player:
    def __init__(self, d75: D75Exporter, *, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._d75 = d75
        self._speed = speed
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.current: str | None = None

    def play(self, name: str) -> Scenario:
        """Start ``name`` (KeyError if unknown), cancelling whatever is playing."""
        scenario = SCENARIOS[name]
        with self._lock:
            self._stop_locked()
            self._cancel = threading.Event()
            self._thread = threading.Thread(
                target=self._run,
                args=(scenario, self._cancel),
                name=f"scenario-{name}",
                daemon=True,
            )
            self.current = name
            self._thread.start()
        return scenario

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self, scenario: Scenario, cancel: threading.Event) -> None:
        while not cancel.is_set():
            started = time.monotonic()
            for step in scenario.steps:
                delay = started + step.at / self._speed - time.monotonic()
                if delay > 0 and cancel.wait(delay):
                    return
                log.info("scenario %s: %s", scenario.name, step.note)
                step.apply(self._d75)
            if scenario.loop_after is None:
                return
            rest = started + scenario.loop_after / self._speed - time.monotonic()
            if rest > 0 and cancel.wait(rest):
                return
