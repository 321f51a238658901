"""The migrator's cluster rewrite (lrs.core.store.migrate.for_cluster) over every shipped migration."""

from __future__ import annotations

import re

import pytest

from lrs.core.config import Settings
from lrs.core.store.clickhouse import cluster_settings
from lrs.core.store.migrate import for_cluster
from lrs.core.store.queries import migrations, query

STATEMENTS = [s for m in migrations() for s in m.statements] + [query("migrations_table").sql]


def test_every_merge_tree_becomes_replicated_on_cluster() -> None:
    tables = [s for s in STATEMENTS if re.match(r"\s*CREATE\s+TABLE", s, re.I)]
    assert tables
    for sql in tables:
        out = for_cluster(sql, "c1", "lrs")
        name = re.match(r"\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)", sql, re.I)[1]
        assert f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER `c1`" in out
        if re.search(r"ENGINE = Null\b", sql):  # keeps nothing (it only feeds views): nothing to replicate
            assert "Replicated" not in out and "ENGINE = Null" in out, out
            continue
        assert re.search(rf"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/{{shard}}/lrs/{name}', '{{replica}}'",
                         out), out


def test_views_name_their_tables_with_the_database() -> None:
    views = [s for s in STATEMENTS if re.match(r"\s*CREATE\s+(MATERIALIZED\s+)?VIEW", s, re.I)]
    assert views
    for sql in views:
        out = for_cluster(sql, "c1", "lrs")
        assert " ON CLUSTER `c1`" in out
        # Every FROM/JOIN/TO names `lrs`.table, a subquery or a function (ARRAY JOIN): the DDL runs elsewhere in
        # the `default` database.
        for m in re.finditer(r"\b(FROM|JOIN|TO)\s+(\S+)", out):
            assert m[2].startswith(("`lrs`.", "(")) or re.match(r"\w+\(", m[2]), (m[0], out)


def test_materialized_view_target_and_source() -> None:
    sql = "CREATE MATERIALIZED VIEW IF NOT EXISTS ids_mv TO ids\nAS SELECT tenant FROM statements FINAL"
    assert for_cluster(sql, "c", "db") == ("CREATE MATERIALIZED VIEW IF NOT EXISTS ids_mv ON CLUSTER `c` TO `db`.ids"
                                           "\nAS SELECT tenant FROM `db`.statements FINAL")


@pytest.mark.parametrize(("sql", "expected"), [
    ("INSERT INTO statement_ids SELECT tenant, statement_id FROM statements",
     "INSERT INTO statement_ids SELECT tenant, statement_id FROM statements"),  # once; replication copies it
    ("ALTER TABLE statements ADD COLUMN x String", "ALTER TABLE statements ON CLUSTER `c` ADD COLUMN x String"),
    ("DROP TABLE IF EXISTS old", "DROP TABLE IF EXISTS old ON CLUSTER `c`"),
    ("RENAME TABLE a TO b", "RENAME TABLE a TO b ON CLUSTER `c`"),
    ("CREATE DATABASE IF NOT EXISTS `lrs`", "CREATE DATABASE IF NOT EXISTS `lrs` ON CLUSTER `c`"),
    ("CREATE TABLE t (a String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
     "CREATE TABLE t ON CLUSTER `c` (a String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a"),
    ("CREATE TABLE t (a String) ENGINE = Memory", "CREATE TABLE t ON CLUSTER `c` (a String) ENGINE = Memory"),
    ("CREATE TABLE t (a String, v UInt8) ENGINE = ReplacingMergeTree(v) ORDER BY a",
     "CREATE TABLE t ON CLUSTER `c` (a String, v UInt8) ENGINE = "
     "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}', v) ORDER BY a"),
])
def test_statement_kinds(sql: str, expected: str) -> None:
    assert for_cluster(sql, "c", "db") == expected


def test_client_settings_only_with_a_cluster() -> None:
    assert cluster_settings(Settings()) == {}
    assert cluster_settings(Settings(clickhouse_cluster="c", clickhouse_insert_quorum=1)) == {"insert_deduplicate": 0}
    assert cluster_settings(Settings(clickhouse_cluster="c")) == {
        "insert_quorum": 2, "insert_quorum_timeout": 10_000, "select_sequential_consistency": 1,
        "insert_deduplicate": 0}


def test_which_queries_get_a_barrier_or_run_on_every_replica() -> None:
    from lrs.core.store.clickhouse import _MUTATION, _PER_REPLICA

    assert _MUTATION.match(query("erase_documents").sql)["table"] == "documents"
    assert _MUTATION.match("ALTER TABLE `statements` UPDATE voided = 1 WHERE 1")["table"] == "statements"
    assert not _MUTATION.match("ALTER TABLE statements ADD COLUMN x String")
    assert not _MUTATION.match(query("statements_mark_voided").sql)  # an insert: nothing to unblock
    assert _PER_REPLICA.search(query("erasure_pending_mutations").sql)
    assert not any(_PER_REPLICA.search(q.sql) for q in map(query, ("sink_offsets", "erasure_counts")))


def test_rewritten_migrations_parse_on_modern_clickhouse() -> None:
    """Every cluster statement is valid syntax for current ClickHouse (chDB's parser; the Keeper setup itself
    is exercised by the Compose overlay, 18.16 by tests/integration/test_cluster.py)."""
    chdb = pytest.importorskip("chdb")
    for sql in STATEMENTS:
        rewritten = for_cluster(sql, "lrs", "lrs")
        literal = "'" + rewritten.replace("\\", "\\\\").replace("'", "\\'") + "'"
        formatted = chdb.query(f"SELECT formatQuery({literal})", "CSV").bytes().decode()
        assert "ON CLUSTER lrs" in formatted or not re.match(r"\s*(CREATE|ALTER|DROP)", sql, re.I), formatted
