"""``lrs migrate``: create the database, apply numbered migrations once each, create Kafka topics.

The migration files describe a single node. With ``settings.clickhouse_cluster`` set, every statement is
rewritten mechanically for a replicated cluster (:func:`for_cluster`), so no file needs a cluster variant:

- ``CREATE TABLE`` / ``VIEW`` / ``MATERIALIZED VIEW`` / ``DATABASE``, ``ALTER``, ``DROP``, ``TRUNCATE`` and
  ``RENAME`` run ``ON CLUSTER`` (ClickHouse's distributed DDL queue in ZooKeeper / Keeper: every replica
  applies it, one that is down applies it when it returns);
- a ``*MergeTree`` engine becomes ``Replicated*MergeTree('/clickhouse/tables/{shard}/<db>/<table>',
  '{replica}', ...)``, the macros coming from each server's config;
- the table names inside views and materialized views (``TO``, ``FROM``, ``JOIN``) are qualified with the
  database: a distributed DDL query runs on the other replicas in the ``default`` database, and ClickHouse
  qualifies only the name of the object created;
- anything else (the back-fill ``INSERT ... SELECT`` of a new derived table, ``OPTIMIZE``) runs once on the
  replica the migrator is connected to: replication copies the rows. A materialized view fires on the replica
  that received the insert only, so its target, replicated like every table, gets each row once.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from lrs.core.config import Settings
from lrs.core.store.clickhouse import make_client
from lrs.core.store.queries import migrations, query

_NAME = r"(?:`[^`]+`|[A-Za-z_][\w.]*)"
# Statement kinds that take ON CLUSTER right after the object's name.
_DDL = re.compile(
    rf"^\s*(?P<head>(?:CREATE|ATTACH)\s+(?:MATERIALIZED\s+)?(?:VIEW|TABLE|DATABASE)|ALTER\s+TABLE|"
    rf"DROP\s+(?:TABLE|VIEW|DATABASE)|DETACH\s+(?:TABLE|VIEW)|TRUNCATE\s+TABLE)"
    rf"(?P<exists>\s+IF\s+(?:NOT\s+)?EXISTS)?\s+(?P<name>{_NAME})",
    re.IGNORECASE,
)
_RENAME = re.compile(r"^\s*RENAME\s+TABLE\s", re.IGNORECASE)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(?P<engine>(?!Replicated)\w*MergeTree)\b\s*(?:\((?P<args>[^()]*)\))?",
                     re.IGNORECASE)
_VIEW = re.compile(r"^\s*(?:CREATE|ATTACH)\s+(?:MATERIALIZED\s+)?VIEW\b", re.IGNORECASE)
# An unqualified table after FROM/JOIN/TO: not a subquery, table function or `db.table`.
_SOURCE = re.compile(r"\b(?P<kw>FROM|JOIN)\s+(?P<table>[A-Za-z_]\w*)\b(?!\s*[.(])", re.IGNORECASE)
_TARGET = re.compile(r"\bTO\s+(?P<table>[A-Za-z_]\w*)\b(?!\s*[.(])", re.IGNORECASE)
_AS = re.compile(r"\bAS\b", re.IGNORECASE)


@dataclass
class MigrationReport:
    """What a migrate run did."""

    applied: list[str]
    already: list[str]


def zookeeper_path(database: str, table: str) -> str:
    """Where a replicated table keeps its replication state: one path per shard, database and table."""
    return f"/clickhouse/tables/{{shard}}/{database}/{table}"


def _bare(name: str) -> str:
    """``db.table`` or ```t``` to ``table``."""
    return name.rsplit(".", 1)[-1].strip("`")


def for_cluster(sql: str, cluster: str, database: str) -> str:
    """A single-node DDL statement rewritten for ``cluster`` (see the module docstring); others unchanged."""
    on_cluster = f" ON CLUSTER `{cluster}`"
    if _RENAME.match(sql):
        return sql.rstrip() + on_cluster
    ddl = _DDL.match(sql)
    if ddl is None:
        return sql
    table = _bare(ddl["name"])
    rewritten = sql[: ddl.end()] + on_cluster + sql[ddl.end():]
    if _VIEW.match(sql):
        header_end = ddl.end() + len(on_cluster)
        as_match = _AS.search(rewritten, header_end)
        split = as_match.start() if as_match else len(rewritten)
        header, body = rewritten[:split], rewritten[split:]
        header = header[:header_end] + _TARGET.sub(
            lambda m: f"TO `{database}`.{m['table']}", header[header_end:], count=1)
        body = _SOURCE.sub(lambda m: f"{m['kw']} `{database}`.{m['table']}", body)
        return header + body

    def replicated(m: re.Match[str]) -> str:
        args = [f"'{zookeeper_path(database, table)}'", "'{replica}'"]
        if m["args"] and m["args"].strip():
            args.append(m["args"].strip())
        return f"ENGINE = Replicated{m['engine']}({', '.join(args)})"

    return _ENGINE.sub(replicated, rewritten)


def migrate_clickhouse(settings: Settings) -> MigrationReport:
    """Apply every migration not yet recorded in ``schema_migrations``; idempotent."""
    database = settings.clickhouse_database
    cluster = settings.clickhouse_cluster

    def ddl(sql: str) -> str:
        return for_cluster(sql, cluster, database) if cluster else sql

    bootstrap = make_client(settings, database="")
    try:
        # The database name comes from our own settings, not from a request; identifiers cannot be bound.
        bootstrap.execute(ddl(f"CREATE DATABASE IF NOT EXISTS `{database}`"))
    finally:
        bootstrap.disconnect()
    client = make_client(settings)
    try:
        client.execute(ddl(query("migrations_table").sql))
        done = {row[0] for row in client.execute(query("migrations_applied").sql)}
        report = MigrationReport(applied=[], already=[])
        for migration in migrations():
            if migration.name in done:
                report.already.append(migration.name)
                continue
            # Every statement is IF NOT EXISTS, so a run interrupted half-way is safe to repeat.
            for statement in migration.statements:
                client.execute(ddl(statement))
            client.execute(
                query("migrations_record").sql,
                [[migration.name, migration.checksum, int(time.time() * 1_000_000)]],
            )
            report.applied.append(migration.name)
        return report
    finally:
        client.disconnect()
