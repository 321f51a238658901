"""Read one page of a statement query: first the page's ids from narrow columns, then only their JSON.

Both steps read ``statements_by_stored`` (ordered by stored time), so the JSON of a page comes from the
one or two granules it occupies rather than from every statement of the tenant.

ClickHouse 18.16 cannot read a table in key order to stop early, so a newest-first page would scan every
stored time of the tenant. An unfiltered descending page (the common "latest statements") is therefore looked
for in growing time windows below its upper bound first: once a window holds a full page, no statement outside
it can belong on the page (they are all older), and only a tenant with few recent statements pays for the
wider reads (primary-key ranges, cheap when empty).
"""

from __future__ import annotations

from lrs.core.store.clickhouse import ClickHouse
from lrs.service.statements.query import StatementQuery

WINDOWS_S = (3600, 86_400, 30 * 86_400)


def read_page(clickhouse: ClickHouse, query: StatementQuery) -> list[tuple[str, str, int]]:
    """``(id, statement JSON, stored_us)`` of up to ``limit + 1`` statements, in the query's order."""
    found = _page_ids(clickhouse, query)
    if not found:
        return []
    stored = [row[1] for row in found]
    rows = clickhouse.run("statements_page_rows", {"tenant": query.tenant, "from_us": min(stored),
                                                   "to_us": max(stored), "ids": [row[0] for row in found]})
    by_id = {row[0]: row for row in rows}
    # An id missing here was erased (GDPR) between the two reads: it is left out, like any erased statement.
    return [by_id[sid] for sid, _ in found if sid in by_id]


def _page_ids(clickhouse: ClickHouse, query: StatementQuery) -> list[tuple]:
    params = query.sql_params(query.limit)
    # Only unfiltered pages: a filtered one may match few recent statements, and its StatementRef sub-select
    # scans the tenant anyway, so narrow windows would add reads instead of saving them.
    if not query.ascending and not query.filtered():
        # The newest stored time the page can hold: the query's snapshot, `until`, or the previous page's end.
        top = min([query.snapshot_us] + [query.until_us] * query.has_until + [query.after_us] * query.has_after)
        for window_s in WINDOWS_S:
            lower = top - window_s * 1_000_000
            if query.has_since and query.since_us >= lower:
                break  # the query's own `since` is already narrower than this window
            rows = clickhouse.run(query.query_name(), {**params, "has_since": 1, "since_us": lower})
            if len(rows) >= params["limit"]:
                return rows
    return clickhouse.run(query.query_name(), params)
