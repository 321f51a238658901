"""``lrs migrate``: create the database, apply numbered migrations once each, create Kafka topics."""

from __future__ import annotations

import time
from dataclasses import dataclass

from lrs.core.config import Settings
from lrs.core.store.clickhouse import make_client
from lrs.core.store.queries import migrations, query


@dataclass
class MigrationReport:
    """What a migrate run did."""

    applied: list[str]
    already: list[str]


def migrate_clickhouse(settings: Settings) -> MigrationReport:
    """Apply every migration not yet recorded in ``schema_migrations``; idempotent."""
    database = settings.clickhouse_database
    bootstrap = make_client(settings, database="")
    try:
        # The database name comes from our own settings, not from a request; identifiers cannot be bound.
        bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    finally:
        bootstrap.disconnect()
    client = make_client(settings)
    try:
        client.execute(query("migrations_table").sql)
        done = {row[0] for row in client.execute(query("migrations_applied").sql)}
        report = MigrationReport(applied=[], already=[])
        for migration in migrations():
            if migration.name in done:
                report.already.append(migration.name)
                continue
            # Every statement is IF NOT EXISTS, so a run interrupted half-way is safe to repeat.
            for statement in migration.statements:
                client.execute(statement)
            client.execute(
                query("migrations_record").sql,
                [[migration.name, migration.checksum, int(time.time() * 1_000_000)]],
            )
            report.applied.append(migration.name)
        return report
    finally:
        client.disconnect()
