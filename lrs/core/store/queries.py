"""Named SQL files from ``schemas/queries`` and numbered migrations from ``schemas/clickhouse``.

Each query file starts with comment lines; ``-- params: {...}`` gives example parameters and
``-- insert: [[...]]`` example rows, so tests can run every shipped statement on both engines.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

from schemas import schema_path

# What may be written into a statement as a table name (names come from system tables, never from a request).
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Query:
    """A named SQL statement and the example inputs declared in its header."""

    name: str
    sql: str
    example_params: dict[str, Any] = field(default_factory=dict)
    example_rows: list[list[Any]] | None = None

    @cached_property
    def external_lists(self) -> tuple[str, ...]:
        """The list parameters the query reads as data: ``p`` travels as the one-row external table ``_p`` (one
        ``String`` column ``p``, the values comma-joined), not in the query text."""
        return tuple(name for name in self.example_params if re.search(rf"\bFROM _{name}\b", self.sql))

    @property
    def is_insert_with_data(self) -> bool:
        """True for ``INSERT ... VALUES`` statements whose rows are passed as data."""
        return self.example_rows is not None

    def for_table(self, verb: str, placeholder: str, table: str) -> str:
        """The statement, which starts with ``verb placeholder`` (``ALTER TABLE statements``), run on ``table``
        instead: a template for every table that has some columns (ClickHouse cannot bind a table name)."""
        if not IDENTIFIER.match(table):
            raise ValueError(f"table name {table!r} cannot be written into a statement")
        head = f"{verb} {placeholder} "
        if not self.sql.startswith(head):
            raise ValueError(f"{self.name}.sql must start with {head!r}")
        return f"{verb} {table} " + self.sql[len(head):]


def _parse(name: str, text: str) -> Query:
    params: dict[str, Any] = {}
    rows: list[list[Any]] | None = None
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("-- params:"):
            params = json.loads(stripped.removeprefix("-- params:"))
        elif stripped.startswith("-- insert:"):
            rows = json.loads(stripped.removeprefix("-- insert:"))
        elif not stripped.startswith("--"):
            body.append(line)
    return Query(name=name, sql="\n".join(body).strip().rstrip(";"), example_params=params, example_rows=rows)


@cache
def query(name: str) -> Query:
    """Load ``schemas/queries/<name>.sql``."""
    path = schema_path("queries", f"{name}.sql")
    return _parse(name, path.read_text(encoding="utf-8"))


def all_queries() -> list[Query]:
    """Every shipped named query, sorted by name."""
    folder = schema_path("queries")
    return [query(p.stem) for p in sorted(folder.glob("*.sql"))]


@dataclass(frozen=True)
class Migration:
    """One numbered migration file, split into its statements."""

    name: str
    statements: list[str]
    checksum: str


def split_statements(text: str) -> list[str]:
    """Split a SQL file on ``;`` at line ends, dropping comment-only lines."""
    statements, current = [], []
    for line in text.splitlines():
        if line.strip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            sql = "\n".join(current).strip().rstrip(";").strip()
            if sql:
                statements.append(sql)
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


def migrations() -> list[Migration]:
    """Every migration in ``schemas/clickhouse``, in file-name order."""
    folder = schema_path("clickhouse")
    result = []
    for path in sorted(folder.glob("[0-9][0-9][0-9]_*.sql")):
        text = path.read_text(encoding="utf-8")
        result.append(
            Migration(path.name, split_statements(text), hashlib.sha256(text.encode()).hexdigest()[:16])
        )
    return result
