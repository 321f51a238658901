"""ClickHouse access over the native protocol (clickhouse-driver), for the LRS and the workers.

clickhouse-driver clients are not thread-safe, so a small pool hands one client to each caller.
"""

from __future__ import annotations

import queue
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError
from clickhouse_driver.errors import ServerException
from clickhouse_driver.util.escape import escape_chars_map
from tenacity import Retrying, retry_if_exception, stop_after_delay

from lrs.core.config import Settings
from lrs.core.retry import jittered_backoff
from lrs.core.store.queries import Query, query

# Values per bound IN list: 2,000 ids render to about 80 KiB, well under ClickHouse's 256 KiB max_query_size; long
# values (IRIs, (course, learner) pairs) are cut by their rendered size as well.
IN_CHUNK = 2000
IN_CHUNK_BYTES = 160_000
# clickhouse-driver pings the server before every query (one more round trip each); a connection that received a
# packet this recently is taken as alive without it. A server that went away meanwhile fails the query instead of
# the ping, which callers already handle (the pool drops the connection; the caller retries or answers 503).
PING_AFTER_IDLE_S = 1.0
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
    client.settings.update(cluster_settings(settings))
    _ping_only_when_idle(client)
    return client


def _ping_only_when_idle(client: Client) -> None:
    """Skip the driver's ping before a query when the connection received a packet within ``PING_AFTER_IDLE_S``."""
    connection = client.connection
    ping, receive = connection.ping, connection.receive_packet
    last = [0.0]

    def receive_packet() -> Any:
        packet = receive()
        last[0] = time.monotonic()
        return packet

    def ping_when_idle() -> Any:
        return True if time.monotonic() - last[0] < PING_AFTER_IDLE_S else ping()

    connection.receive_packet = receive_packet
    connection.ping = ping_when_idle


def cluster_settings(settings: Settings) -> dict[str, int]:
    """What every query sends on a replicated cluster (docs/deployment.md, "Consistency on replicas").

    An insert is acknowledged only once ``clickhouse_insert_quorum`` replicas hold it, and a select runs only on
    a replica that holds every quorum-acknowledged insert (else it fails and the caller retries, reconnecting,
    perhaps to another replica): whatever a client saw written, any replica it reads next shows it. This is
    what read-your-writes, the document writer's read-decide-write, the analytics version swap and the
    erasure's record rely on. Quorum and sequential consistency go together: a sequentially consistent select
    does not see rows inserted without a quorum.

    ``insert_deduplicate = 0``: a replicated table drops a block it already has, and ClickHouse then skips the
    materialized views too. An insert that failed after its block was written (the quorum timed out, the
    connection broke) and is retried would leave every derived table without those rows. Our tables are built
    for at-least-once writes (ReplacingMergeTree keys, as on a single node, which never deduplicates), so the
    retry simply writes again.
    """
    if not settings.clickhouse_cluster:
        return {}
    if settings.clickhouse_insert_quorum < 2:
        return {"insert_deduplicate": 0}
    return {"insert_quorum": settings.clickhouse_insert_quorum,
            "insert_quorum_timeout": int(settings.clickhouse_quorum_timeout_s * 1000),
            "select_sequential_consistency": 1, "insert_deduplicate": 0}


# ClickHouse 18.16 refuses a quorum insert while the table's previous one is still waiting for its replicas
# (UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE): nothing was written, so it is retried here, briefly.
QUORUM_BUSY = 286


def _quorum_busy(exc: BaseException) -> bool:
    return isinstance(exc, ServerException) and exc.code == QUORUM_BUSY


# Queries about a replica's own state: system.mutations lists what this replica has applied. On a cluster they are
# asked of every replica and their one row of counts is summed (an erasure is done when no replica has one left).
_PER_REPLICA = re.compile(r"\bFROM\s+system\.mutations\b", re.IGNORECASE)


# A mutation on a replicated table skips the part its partition's latest quorum insert wrote until another quorum
# insert lands in that partition (ClickHouse keeps `quorum/last_part` per partition and excludes those parts from
# merges and mutations). Without one an erasure would never finish on a quiet table, and on a table partitioned by
# month the last part of every past month would never be erased. So on a cluster every ALTER ... DELETE/UPDATE of
# a table with a `tenant` column is followed by a barrier in each of its partitions: one row per partition, tenant
# '' (which no tenant can be), the partition key's columns taken from a row of that partition and every other
# column default (never a copy of a tenant's data), written with the quorum and never deduplicated. In a
# ReplacingMergeTree those rows merge into one per partition; a SummingMergeTree drops them (all sums zero).
_MUTATION = re.compile(r"^\s*ALTER\s+TABLE\s+`?(?P<table>\w+)`?\s+(?:DELETE|UPDATE)\b", re.IGNORECASE)
BARRIER_TENANT = ""
BARRIER_PARTITIONS_PER_INSERT = 100  # max_partitions_per_insert_block's default


def replica_clients(settings: Settings) -> list[Client]:
    """One client per replica of ``settings.clickhouse_cluster`` (``remote_servers``), with the DSN's user."""
    first = make_client(settings)
    try:
        addresses = first.execute("SELECT host_name, port FROM system.clusters WHERE cluster = %(c)s",
                                  {"c": settings.clickhouse_cluster})
        conn = first.connection
        user, password, database = conn.user, conn.password, conn.database
    finally:
        first.disconnect()
    if not addresses:
        raise ClickHouseError(f"ClickHouse has no cluster {settings.clickhouse_cluster!r} in remote_servers")
    clients = []
    for host, port in addresses:
        client = Client(host=host, port=port, user=user, password=password, database=database, connect_timeout=3,
                        send_receive_timeout=30, settings=cluster_settings(settings))
        clients.append(client)
    return clients


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    """``values`` in runs of at most ``IN_CHUNK`` values and about ``IN_CHUNK_BYTES`` rendered."""
    chunk: list[Any] = []
    size = 0
    for value in values:
        length = len(str(value)) + 8  # quotes, escapes, separators
        if chunk and (len(chunk) >= IN_CHUNK or size + length > IN_CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(value)
        size += length
    if chunk:
        yield chunk


_ESCAPES = str.maketrans(escape_chars_map)


def split_lists(named: Query, params: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, str]]:
    """``params`` of the query ``named`` in two: what is bound into the query text, and the lists it reads as
    external tables (:attr:`Query.external_lists`), each comma-joined."""
    text = dict(params or {})
    lists = {key: text.pop(key) for key in named.external_lists if key in text}
    return text, {key: v if isinstance(v, str) else ",".join(v) for key, v in lists.items()}


def external_tables(lists: dict[str, str]) -> list[dict[str, Any]] | None:
    """clickhouse-driver's external tables for comma-joined lists: ``_<name>``, one row, one ``String`` column
    ``<name>`` (see :attr:`Query.external_lists`); None when there is none."""
    return [{"name": f"_{name}", "structure": [(name, "String")], "data": [{name: value}]}
            for name, value in lists.items()] or None


class StringLiteral:
    """A string parameter already rendered as clickhouse-driver renders a ``str`` (quoted, the same escapes).

    The driver escapes a string with a Python loop over its characters: the sink's id lists (one string of up to
    2,000 ids) cost it 4 % of the worker's CPU at 7,000 statements/s. ``str.translate`` does the same in C. The
    driver passes any other object through unchanged and the query's ``%`` formatting calls ``str`` on it.
    """

    __slots__ = ("text",)

    def __init__(self, value: str) -> None:
        self.text = "'" + value.translate(_ESCAPES) + "'"

    def __str__(self) -> str:
        return self.text


def _literal(value: Any) -> Any:
    return StringLiteral(value) if isinstance(value, str) else value


def bind(params: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters as clickhouse-driver should render them: strings pre-escaped (:class:`StringLiteral`); lists
    become tuples, for ``IN %(ids)s``; a list of lists (or tuples) becomes a tuple of tuples, for
    ``(a, b) IN %(pairs)s`` (both engines use the key for it)."""
    return {k: tuple(tuple(map(_literal, x)) if isinstance(x, list | tuple) else _literal(x) for x in v)
            if isinstance(v, list) else _literal(v) for k, v in (params or {}).items()}


class ClickHouse:
    """A pool of clients running named queries with bound parameters."""

    def __init__(self, settings: Settings, size: int = 8, *, client_name: str | None = None,
                 log_queries: bool = False) -> None:
        self._settings = settings
        # Concurrent quorum inserts into one table (two writer processes) wait for each other on a cluster.
        self._busy_retry = Retrying(retry=retry_if_exception(_quorum_busy), wait=jittered_backoff(0.01, 0.5),
                                    stop=stop_after_delay(settings.clickhouse_quorum_timeout_s), reraise=True,
                                    sleep=time.sleep)
        self._pool: queue.LifoQueue[Client] = queue.LifoQueue()
        for _ in range(size):
            client = make_client(settings)
            if client_name:  # shown in system.query_log and system.processes
                client.connection.client_name = client_name
            if log_queries:  # each query's rows and bytes read land in system.query_log
                client.settings["log_queries"] = 1
            self._pool.put(client)

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
        """Run the named query from ``schemas/queries`` with bound parameters.

        A list parameter the query reads as an external table (:attr:`Query.external_lists`) is sent as one
        comma-joined string in it; use :meth:`run_in_chunks` for lists that may be long.
        On a cluster, a query of ``system.mutations`` runs on every replica and its one row of counts is summed.
        """
        named = query(name)
        sql = named.sql
        text, lists = split_lists(named, params)
        if self._settings.clickhouse_cluster and _PER_REPLICA.search(sql):
            return self._run_on_every_replica(sql, text, lists)
        with self.client() as client:
            rows = self._busy_retry.copy()(client.execute, sql, bind(text), external_tables=external_tables(lists))
            mutation = _MUTATION.match(sql)
            if mutation:
                self.after_mutation(client, mutation["table"])
            return rows

    def after_mutation(self, client: Client, table: str) -> None:
        """Call after an ``ALTER TABLE table DELETE/UPDATE`` run on ``client`` outside :meth:`run`: on a cluster
        with a quorum, the barrier insert that lets the mutation reach every part (see ``_MUTATION``)."""
        if "insert_quorum" not in cluster_settings(self._settings):
            return
        catalog = client.execute("SELECT name, is_in_partition_key FROM system.columns "
                                 "WHERE database = currentDatabase() AND table = %(t)s ORDER BY name", {"t": table})
        if "tenant" not in {name for name, _ in catalog}:
            return
        # Names and the partition expression come from our own queries and the server's catalog, never a request.
        columns = [name for name, in_partition_key in catalog if in_partition_key]
        insert = self._busy_retry.copy()
        if not columns:  # one partition
            insert(client.execute, f"INSERT INTO `{table}` (tenant) VALUES", [(BARRIER_TENANT,)],
                   settings={"insert_deduplicate": 0})
            return
        partition_key = client.execute("SELECT partition_key FROM system.tables WHERE database = currentDatabase() "
                                       "AND name = %(t)s", {"t": table})[0][0]
        names = ", ".join(f"`{c}`" for c in columns)
        picks = ", ".join(f"any(`{c}`)" for c in columns)
        rows = client.execute(f"SELECT {picks} FROM `{table}` GROUP BY {partition_key}")
        # Current ClickHouse refuses an insert block spanning more than 100 partitions (a history of 9 years).
        for start in range(0, len(rows), BARRIER_PARTITIONS_PER_INSERT):
            insert(client.execute, f"INSERT INTO `{table}` (tenant, {names}) VALUES",
                   [(BARRIER_TENANT, *row) for row in rows[start:start + BARRIER_PARTITIONS_PER_INSERT]],
                   settings={"insert_deduplicate": 0})

    def _run_on_every_replica(self, sql: str, text: dict[str, Any], lists: dict[str, str]) -> list[tuple]:
        clients = replica_clients(self._settings)
        try:
            results = [client.execute(sql, bind(text), external_tables=external_tables(lists)) for client in clients]
        finally:
            for client in clients:
                client.disconnect()
        return [tuple(sum(values) for values in zip(*(rows[0] for rows in results), strict=True))]

    def run_in_chunks(self, name: str, params: dict[str, Any], key: str = "ids") -> list[tuple]:
        """:meth:`run` once per chunk (``IN_CHUNK`` values, ``IN_CHUNK_BYTES``) of the list parameter ``key``; the
        rows of all runs.

        A bound list is rendered into the query text, which ClickHouse caps (``max_query_size``, 256 KiB) and parses
        slowly. A query that reads the list from the external table ``_<key>`` (``splitByChar(',', key) FROM
        _<key>``) gets each chunk there as one comma-joined string, as data: measured on 18.16 with 1,000 ids, 0.9
        against 2.8 ms of server CPU for the same lookup with the string in the query text (and 37 ms for a literal
        list of 2,000).
        """
        joined = key in query(name).external_lists
        rows: list[tuple] = []
        for chunk in _chunks(list(params[key])):
            if joined and any("," in value for value in chunk):
                raise ValueError(f"{name}: a value of {key} holds a comma")  # ids are UUIDs: never
            rows += self.run(name, {**params, key: ",".join(chunk) if joined else chunk})
        return rows

    def insert(self, name: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a named ``INSERT ... VALUES`` query with rows passed as data (never inline)."""
        if not rows:
            return
        # Column by column, transposed in C: row form makes the driver build each column with a Python loop.
        columns = list(zip(*rows, strict=True))
        with self.client() as client:
            self._busy_retry.copy()(client.execute, query(name).sql, columns, columnar=True)

    def close(self) -> None:
        """Disconnect every pooled client."""
        while not self._pool.empty():
            self._pool.get_nowait().disconnect()
