"""Child processes with log files, readiness checks and a clean stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from d76secrets import open_private_log, write_private


class StartupError(RuntimeError):
    """A process did not become ready; the message carries the end of its log."""


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: int = signal.SIGTERM,
        user: str | None = None,
        echo: bool = False,
        redact: Callable[[str], str] | None = None,
        pid_file: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.user = user
        self.echo = echo
        # Output is copied through this (secrets removed) when given; else it goes straight
        # to the log file.
        self.redact = redact
        self.pid_file = pid_file  # holds its pid while it runs (for a signal from another process)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._pump: threading.Thread | None = None

    def start(self) -> None:
        self._log = open_private_log(self.log_path)  # 0600: a log may name what went wrong
        piped = self.echo or self.redact is not None
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if piped else self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            user=self.user,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops us in order
        )
        if piped:
            self._pump = threading.Thread(target=self._copy_output, daemon=True)
            self._pump.start()
        if self.pid_file is not None:
            write_private(self.pid_file, f"{self.proc.pid}\n")

    def _copy_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None and self._log is not None
        # Keep draining whatever happens to the log or the console: a child whose output pipe
        # fills blocks on its next log line, and a blocked dispatcher is a silent one.
        for raw in self.proc.stdout:
            text = raw.decode(errors="replace")
            if self.redact is not None:
                text = self.redact(text)
            with contextlib.suppress(OSError, ValueError):  # disk full, console gone, closed
                self._log.write(text.encode())
                self._log.flush()
            if self.echo:
                with contextlib.suppress(OSError, ValueError):
                    sys.stdout.write(f"[{self.name}] {text}")
                    sys.stdout.flush()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                code = self.proc.returncode if self.proc else None
                raise StartupError(
                    f"{self.name} exited with code {code} during start-up. Log "
                    f"{self.log_path}:\n{self.tail()}"
                )
            if check():
                return
            time.sleep(0.1)
        raise StartupError(
            f"{self.name} not ready after {timeout:.0f}s. Log {self.log_path}:\n{self.tail()}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        if self.pid_file is not None:
            with contextlib.suppress(OSError):
                self.pid_file.unlink()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self._pump is not None:
            self._pump.join(timeout=2)
            self._pump = None
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def running_pid(pid_file: Path, *words: str) -> int | None:
    """The pid in ``pid_file`` if that process runs and its command line holds ``words`` (a
    stale file's pid may belong to another program by now); else None."""
    try:
        pid = int(pid_file.read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if all(word.encode() in argv for word in words) else None


def http_ok(url: str, timeout: float = 1.0) -> Callable[[], bool]:
    """A readiness check: GET ``url`` answers 2xx."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    return check


class RestartPolicy:
    """When to restart a child that exited: 1 s, then doubling to 60 s while it keeps dying;
    a child that stayed up for 5 minutes starts again from 1 s."""

    def __init__(self, first: float = 1.0, cap: float = 60.0, settle: float = 300.0) -> None:
        self._first, self._cap, self._settle = first, cap, settle
        self._delay: dict[str, float] = {}
        self._started: dict[str, float] = {}
        self._due: dict[str, float] = {}

    def started(self, name: str, now: float) -> None:
        self._started[name] = now
        self._due.pop(name, None)

    def exited(self, name: str, now: float) -> float:
        """Record an exit (once per exit); return the seconds until the restart."""
        if name in self._due:
            return max(0.0, self._due[name] - now)
        stayed_up = now - self._started.get(name, now) >= self._settle
        delay = self._first if stayed_up else self._delay.get(name, self._first / 2) * 2
        delay = min(self._cap, max(self._first, delay))
        self._delay[name] = delay
        self._due[name] = now + delay
        return delay

    def waiting(self, name: str) -> bool:
        return name in self._due

    def due(self, name: str, now: float) -> bool:
        return name in self._due and now >= self._due[name]
