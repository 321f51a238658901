"""Read one page of a statement query: first the page's ids from narrow columns, then only their JSON.

Both steps read ``statements_by_stored`` (ordered by stored time), so the JSON of a page comes from the
one or two granules it occupies rather than from every statement of the tenant.
"""

from __future__ import annotations

from lrs.statements.query import StatementQuery
from lrs.store.clickhouse import ClickHouse


def read_page(clickhouse: ClickHouse, query: StatementQuery) -> list[tuple[str, str, int]]:
    """``(id, statement JSON, stored_us)`` of up to ``limit + 1`` statements, in the query's order."""
    found = clickhouse.run(query.query_name(), query.sql_params(query.limit))
    if not found:
        return []
    stored = [row[1] for row in found]
    rows = clickhouse.run("statements_page_rows", {"tenant": query.tenant, "from_us": min(stored),
                                                   "to_us": max(stored), "ids": [row[0] for row in found]})
    by_id = {row[0]: row for row in rows}
    # An id missing here was erased (GDPR) between the two reads: it is left out, like any erased statement.
    return [by_id[sid] for sid, _ in found if sid in by_id]
