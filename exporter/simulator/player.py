"""Plays one scenario at a time on a background thread; a new one replaces the old.

Scenarios change only what they are about, on top of the current state; ``calm`` resets
everything. Tickers installed by steps run every ``TICK_SECONDS`` on a thread of their own.
"""

from __future__ import annotations

import logging
import threading
import time

from exporter.facade import D75Exporter
from exporter.simulator.scenarios import SCENARIOS, Scenario, Step, Tick

log = logging.getLogger("d76.simulator")
TICK_SECONDS = 0.25


class Player:
    def __init__(self, d75: D75Exporter, *, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._d75 = d75
        self._speed = speed
        # Two locks: ``_switch`` orders play() and stop() (one scenario at a time), ``_lock`` guards
        # the tickers. Never join a scenario's thread while holding ``_lock``: it may be about to
        # take it for its step's tickers, and the orderbooks would stop ticking meanwhile.
        self._switch = threading.Lock()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._tickers: dict[str, Tick] = {}
        self._ticker_thread = threading.Thread(target=self._tick_loop, name="ticker", daemon=True)
        self._ticker_thread.start()
        self.current: str | None = None

    def play(self, name: str) -> Scenario:
        """Start ``name`` (KeyError if unknown), cancelling whatever is playing."""
        scenario = SCENARIOS[name]
        with self._switch:
            self._stop_switched()
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

    def apply(self, step: Step) -> None:
        """Apply one step now (also used to set the base state before a scenario)."""
        log.info("%s", step.note)
        step.apply(self._d75)
        with self._lock:
            for ticker_name, tick in step.tickers.items():
                if tick is None:
                    self._tickers.pop(ticker_name, None)
                else:
                    self._tickers[ticker_name] = tick

    def stop(self) -> None:
        with self._switch:
            self._stop_switched()
        self._closed.set()
        self._ticker_thread.join(timeout=5)

    def _stop_switched(self) -> None:
        self._cancel.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def _tick_loop(self) -> None:
        while not self._closed.wait(TICK_SECONDS):
            with self._lock:
                tickers = list(self._tickers.values())
            for tick in tickers:
                tick(self._d75)

    def _run(self, scenario: Scenario, cancel: threading.Event) -> None:
        while not cancel.is_set():
            started = time.monotonic()
            for step in scenario.steps:
                delay = started + step.at / self._speed - time.monotonic()
                if cancel.wait(max(delay, 0)):  # replaced: not one more step
                    return
                self.apply(
                    Step(
                        step.at, f"scenario {scenario.name}: {step.note}", step.apply, step.tickers
                    )
                )
            if scenario.loop_after is None:
                return
            rest = started + scenario.loop_after / self._speed - time.monotonic()
            if rest > 0 and cancel.wait(rest):
                return
