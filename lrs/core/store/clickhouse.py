"""ClickHouse access over the native protocol (clickhouse-driver), for the LRS and the workers.

clickhouse-driver clients are not thread-safe, so a small pool hands one client to each caller.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from lrs.core.config import Settings
from lrs.core.store.queries import query

# Values per bound IN list: 2,000 ids render to about 80 KiB, well under ClickHouse's 256 KiB max_query_size.
IN_CHUNK = 2000
# What a caller sees when ClickHouse is down, slow or refusing: answer 503, retry, never 500.
STORE_ERRORS: tuple[type[BaseException], ...] = (ClickHouseError, OSError, EOFError)


def make_client(settings: Settings, *, database: str | None = None) -> Client:
    """A client for the configured DSN (``database=""`` connects without selecting one)."""
    client = Client.from_url(settings.clickhouse_url)
    if database is not None:
        client.connection.database = database
    # Bounded timeouts: a down server must fail fast so callers can retry or answer 503.
    client.connection.connect_timeout = 3
    client.connection.send_receive_timeout = 30
    return client


def bind(params: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters as clickhouse-driver should render them: lists become tuples, for ``IN %(ids)s``."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in (params or {}).items()}


class ClickHouse:
    """A pool of clients running named queries with bound parameters."""

    def __init__(self, settings: Settings, size: int = 8) -> None:
        self._settings = settings
        self._pool: queue.LifoQueue[Client] = queue.LifoQueue()
        for _ in range(size):
            self._pool.put(make_client(settings))

    @contextmanager
    def client(self) -> Iterator[Client]:
        """Borrow a client; it goes back to the pool even if the query failed."""
        client = self._pool.get()
        try:
            yield client
        except Exception:
            # A failed connection may be half-open; start the next use from a clean socket.
            client.disconnect()
            raise
        finally:
            self._pool.put(client)

    def run(self, name: str, params: dict[str, Any] | None = None) -> list[tuple]:
        """Run the named query from ``schemas/queries`` with bound parameters."""
        with self.client() as client:
            return client.execute(query(name).sql, bind(params))

    def run_in_chunks(self, name: str, params: dict[str, Any], key: str = "ids") -> list[tuple]:
        """:meth:`run` once per ``IN_CHUNK`` values of the list parameter ``key``; the rows of all runs.

        A bound list is rendered into the query text, which ClickHouse caps (``max_query_size``, 256 KiB).
        """
        values = list(params[key])
        rows: list[tuple] = []
        for start in range(0, len(values), IN_CHUNK):
            rows += self.run(name, {**params, key: values[start:start + IN_CHUNK]})
        return rows

    def insert(self, name: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a named ``INSERT ... VALUES`` query with rows passed as data (never inline)."""
        if not rows:
            return
        with self.client() as client:
            client.execute(query(name).sql, list(rows))

    def close(self) -> None:
        """Disconnect every pooled client."""
        while not self._pool.empty():
            self._pool.get_nowait().disconnect()
