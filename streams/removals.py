"""Removing the losing version of a statement id that two sinks inserted at once (see streams/conflicts.py).

The sink records a removal (``pending``, one insert); the eraser's timer (streams/erasure.py, the group leader)
issues one ALTER DELETE per table holding statement rows (``statement_removal_tables``: found by column, so a new
copy of the statements is covered without code changes), waits for the mutations without blocking anyone (bounded
by ``erasure_timeout_s``, retried with back-off), then re-marks the loser's learner's course so its analytics are
recomputed without the statement, exactly as an erasure does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Self

from lrs.core.kafka.markers import Slice
from lrs.core.store.clickhouse import ClickHouse
from lrs.core.store.queries import query

# Which columns tell a version from another in a table, first match wins: (required columns, delete template,
# the table name written in the template).
TEMPLATES = ((("statement",), "remove_version_by_statement", "statements"),
             (("statement_hash",), "remove_version_by_hash", "statement_versions_recent"),
             (("actor_ifi", "timestamp_us"), "remove_version_by_actor", "learner_statements"),
             (("stored_us",), "remove_version_by_stored", "statements_by_stored_month"))


class RowRecord:
    """A dataclass kept as one ClickHouse row: its fields in the column order of its queries."""

    @classmethod
    def from_row(cls, row: tuple) -> Self:
        """The record of a row (arrays come back as tuples)."""
        return cls(*[list(v) if isinstance(v, list | tuple) else v for v in row])

    def as_row(self) -> list[Any]:
        """The row for the record's insert query."""
        return [getattr(self, f.name) for f in fields(self)]  # type: ignore[arg-type]


@dataclass
class Removal(RowRecord):
    """One row of ``statement_removals`` (field order = column order of the queries)."""

    tenant: str
    statement_id: str
    stored_us: int
    statement_hash: int
    timestamp_us: int
    actor_ifi: str
    course_id: str
    winner_stored_us: int
    winner_timestamp_us: int
    winner_actor_ifi: str
    related_agents: list[str] = field(default_factory=list)
    state: str = "pending"
    attempts: int = 0
    issued_us: int = 0
    next_try_us: int = 0
    error: str = ""
    requested_us: int = 0
    updated_us: int = 0

    def params(self) -> dict[str, Any]:
        """The parameters of the ``remove_version_by_*`` deletes."""
        return {"tenant": self.tenant, "statement_id": self.statement_id, "stored_us": self.stored_us,
                "statement_hash": self.statement_hash, "actor_ifi": self.actor_ifi,
                "timestamp_us": self.timestamp_us, "winner_stored_us": self.winner_stored_us,
                "winner_actor_ifi": self.winner_actor_ifi, "winner_timestamp_us": self.winner_timestamp_us}

    def work(self) -> dict[Slice, set[str]]:
        """The analytics to recompute: the loser's learner in its course (none if it named no course)."""
        return {(self.tenant, self.course_id): {self.actor_ifi}} if self.course_id else {}

    @property
    def request_id(self) -> str:
        """What the eraser's logs call it."""
        return f"removal of {self.statement_id}@{self.stored_us}"


def removal_statements(clickhouse: ClickHouse) -> list[tuple[str, str, str]]:
    """``(table, query name, SQL)``: one ALTER DELETE per table holding statement rows."""
    statements = []
    for table, columns in clickhouse.run("statement_removal_tables"):
        for needed, name, placeholder in TEMPLATES:
            if all(c in columns for c in needed):
                statements.append((table, name, query(name).for_table("ALTER TABLE", placeholder, table)))
                break
    return statements
