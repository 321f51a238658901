"""The 64-bit key ``statement_id_keys`` holds for a stored statement id, computed here as ClickHouse computes it.

Migration 040 keys every stored id as ``cityHash64(tenant, statement_id)``. ClickHouse hashes each argument with
CityHash64 v1.0.2 and folds the second into the first with CityHash's ``Hash128to64``; doing the same here lets a
small lookup send the keys themselves (``stored_keys``: one plain ``IN`` over the key column) instead of the ids
for the server to split and hash in two subqueries, which cost 18.16 about half as much again in CPU per lookup
of 8 ids (1.3-1.5 against 0.8-1.0 ms, docs/benchmarks.md). tests/integration/test_sql_engines.py checks the
keys against both engines.
"""

from __future__ import annotations

from collections.abc import Iterable

from clickhouse_cityhash.cityhash import CityHash64

_MASK = (1 << 64) - 1
_K_MUL = 0x9DDFEA08EB382D69  # CityHash v1.0.2's kMul


def _hash128_to_64(low: int, high: int) -> int:
    a = ((low ^ high) * _K_MUL) & _MASK
    a ^= a >> 47
    b = ((high ^ a) * _K_MUL) & _MASK
    b ^= b >> 47
    return (b * _K_MUL) & _MASK


def statement_keys(tenant: str, ids: Iterable[str]) -> dict[int, list[str]]:
    """``cityHash64(tenant, id)`` of each id, as ``{key: [ids]}`` (two ids may share a key: both are listed)."""
    tenant_hash = CityHash64(tenant.encode())
    keys: dict[int, list[str]] = {}
    for sid in ids:
        keys.setdefault(_hash128_to_64(tenant_hash, CityHash64(sid.encode())), []).append(sid)
    return keys
