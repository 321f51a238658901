"""Bound parameters render exactly as clickhouse-driver renders them itself (only faster): an escape missed here
would be an injection or a broken query."""

from __future__ import annotations

import random

import pytest
from clickhouse_driver.util.escape import escape_params

from lrs.core.store.clickhouse import StringLiteral, bind


class _Context:  # escape_params needs it only for datetimes
    pass


def _driver_alone(params: dict) -> dict:
    """What the driver renders from the same values without ``StringLiteral`` (lists as tuples, as bind does)."""
    return escape_params({k: tuple(tuple(x) if isinstance(x, list | tuple) else x for x in v)
                          if isinstance(v, list) else v for k, v in params.items()}, _Context())


SQL = "SELECT %(s)s, %(ids)s, %(pairs)s, %(n)s, %(x)s, %(none)s"


@pytest.mark.parametrize("seed", range(5))
def test_every_escape_renders_as_the_driver_does(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab'\\\n\t\0\b\f\r\a\v,%\"é😀"

    def text(n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    for _ in range(300):
        params = {"s": text(rng.randint(0, 40)), "ids": [text(6) for _ in range(3)],
                  "pairs": [(text(4), 1), [text(3), None]], "n": rng.randint(-5, 5), "x": 1.5, "none": None}
        assert SQL % escape_params(bind(params), _Context()) == SQL % _driver_alone(params)


def test_a_quote_cannot_end_the_literal() -> None:
    assert str(StringLiteral("x' OR 1=1 --")) == "'x\\' OR 1=1 --'"
    assert str(StringLiteral("\\'")) == "'\\\\\\''"


def test_id_lists_travel_as_external_tables_not_in_the_query_text() -> None:
    from lrs.core.store.clickhouse import external_tables
    from lrs.core.store.queries import all_queries

    readers = {q.name: q.external_lists for q in all_queries() if q.external_lists}
    assert readers == dict.fromkeys(
        ("analytics_target_learners", "statement_versions_for_ids", "statement_versions_for_ids_all", "stored_ids",
         "stored_statements_for_ids", "stored_statements_for_ids_since", "voids_for_ids"), ("ids",))
    for q in all_queries():  # the list never lands in the query text as well
        assert not q.external_lists or "%(ids)s" not in q.sql, q.name
    assert external_tables({"ids": "a,b"}) == [
        {"name": "_ids", "structure": [("ids", "String")], "data": [{"ids": "a,b"}]}]
    assert external_tables({}) is None
    from lrs.core.store.clickhouse import split_lists
    from lrs.core.store.queries import query

    assert split_lists(query("stored_ids"), {"tenant": "t", "ids": ["a", "b"]}) == ({"tenant": "t"}, {"ids": "a,b"})
    assert split_lists(query("stored_ids"), {"tenant": "t", "ids": "a,b"}) == ({"tenant": "t"}, {"ids": "a,b"})
