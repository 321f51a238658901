"""The statement keys the LRS computes are ClickHouse's ``cityHash64(tenant, id)`` (values read from 18.16; both
engines are checked live in tests/integration/test_sql_engines.py)."""

from lrs.core.store.keys import statement_keys


def test_keys_are_clickhouses_city_hash_of_tenant_and_id() -> None:
    assert statement_keys("t1", ["abc"]) == {6109237116777936803: ["abc"]}
    assert statement_keys("acme", ["0b7c"]) == {13507336371459024279: ["0b7c"]}


def test_every_id_is_listed_under_its_key() -> None:
    keys = statement_keys("acme", ["a", "b", "c"])
    assert sorted(sid for ids in keys.values() for sid in ids) == ["a", "b", "c"]
    assert len(keys) == 3
