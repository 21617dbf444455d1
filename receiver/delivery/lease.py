"""Keeping a claim while its send runs: the lease is renewed on a connection of its own."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from receiver.store import db

log = logging.getLogger("d76.dispatcher")


class LeaseKeeper:
    """Renews the current claim's lease every third of the lease while a send runs, on a
    connection of its own, so a slow channel never lets the claim expire under us."""

    def __init__(self, dsn: str, lease_seconds: float) -> None:
        self._dsn = dsn
        self._lease = lease_seconds
        self._conn: db.Connection | None = None

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None

    def _renew(self, renew: Callable[[db.Connection, float], bool], what: str) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = db.connect(self._dsn)
            if renew(self._conn, self._lease):
                return True
            log.warning("%s: lease lost while sending (another dispatcher took it)", what)
        except Exception as exc:
            log.warning("%s: cannot renew the lease: %s", what, exc)
            self.close()
        return False

    @contextlib.contextmanager
    def holding(self, renew: Callable[[db.Connection, float], bool], what: str) -> Iterator[None]:
        done = threading.Event()

        def run() -> None:
            while not done.wait(self._lease / 3):
                if not self._renew(renew, what):
                    return

        thread = threading.Thread(target=run, name="lease-keeper", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
