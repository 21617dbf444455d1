"""PostgreSQL connections for the web process: small thread-safe pools, opened lazily.

The webhook and the history API/page each have their own pool (and their own
``statement_timeout``), so a slow history query can never hold the connections ingest needs.

Lazily, so that a forking server opens connections in each worker, never in the parent.
A connection that fails with an "unavailable" error is discarded, and the request answers
503 (``StoreUnavailable``) so that Alertmanager retries it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2.extensions
import psycopg2.pool

from receiver import store
from receiver.errors import QueryTimeout, StoreUnavailable


class Database:
    def __init__(
        self,
        dsn: str,
        max_connections: int = 8,
        *,
        statement_timeout_seconds: float | None = None,
        application_name: str = "d76-receiver",
        timeout_hint: str = "narrow the time range or the filters",
    ) -> None:
        self._timeout_hint = timeout_hint
        self._dsn = dsn
        self._max = max_connections
        self._timeout_ms = int(statement_timeout_seconds * 1000) if statement_timeout_seconds else 0
        self._application_name = application_name
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._lock:
            if self._pool is None:
                # minconn = maxconn: psycopg2's pool closes a returned connection whenever it
                # holds minconn or more, so a lower minconn means a new connection per request.
                options = {}
                if self._timeout_ms:  # set per connection: no statement of this role runs longer
                    options["options"] = f"-c statement_timeout={self._timeout_ms}"
                self._pool = psycopg2.pool.ThreadedConnectionPool(
                    self._max,
                    self._max,
                    self._dsn,
                    connect_timeout=3,
                    application_name=self._application_name,
                    **options,
                )
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection; database outages surface as StoreUnavailable (503)."""
        try:
            pool = self._get_pool()
            conn = pool.getconn()
        except store.UNAVAILABLE as exc:
            raise StoreUnavailable(f"database unavailable: {_first_line(exc)}") from None
        except psycopg2.pool.PoolError:
            raise StoreUnavailable("database busy: no free connection") from None
        broken = False
        try:
            yield conn
        except psycopg2.extensions.QueryCanceledError:
            with contextlib.suppress(psycopg2.Error):
                conn.rollback()
            raise QueryTimeout(
                f"the query took longer than {self._timeout_ms / 1000:g}s and was cancelled; "
                f"{self._timeout_hint}"
            ) from None
        except store.UNAVAILABLE as exc:
            broken = True
            raise StoreUnavailable(f"database unavailable: {_first_line(exc)}") from None
        finally:
            pool.putconn(conn, close=broken or bool(conn.closed))

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
