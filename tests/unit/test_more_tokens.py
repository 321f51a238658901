"""Signed ``more`` tokens: round trip, key rotation, expiry, and 400 (never anything else) for any other input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import fields
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrs.core.config import Settings
from lrs.service.errors import XAPIError
from lrs.service.statements import token as token_module
from lrs.service.statements.query import MAX_LIMIT, StatementQuery, parse_query
from lrs.service.statements.token import MoreTokens

NOW = 1_790_000_000.0
TOKENS = MoreTokens([b"current-key"], ttl_s=86_400)


def _query(**params: str) -> StatementQuery:
    return parse_query(params, tenant="t", client_key="", version="1.0.3").after(123, "abc")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _forge(state: dict, key: bytes = b"current-key") -> str:
    """A token signed with ``key`` over an arbitrary payload (what someone holding the key could make)."""
    signed = f"v1.{_b64(json.dumps(state).encode())}"  # json: also integers past 64 bits
    return f"{signed}.{_b64(hmac.new(key, signed.encode(), hashlib.sha256).digest()[:16])}"


def _state(token: str) -> dict:
    payload = token.split(".")[1]
    return orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _rejected(token: str, tokens: MoreTokens = TOKENS, tenant: str = "t") -> XAPIError:
    with pytest.raises(XAPIError) as err:
        tokens.open(token, tenant=tenant, now=NOW)
    assert err.value.status == 400
    assert "more token" in err.value.body()["error"]["message"]
    return err.value


def test_the_field_sets_cover_the_query() -> None:
    covered = (token_module._FLAGS | token_module._TIMES | token_module._TEXTS | token_module._BOOLS
               | {"limit", "format"})
    assert covered == {f.name for f in fields(StatementQuery)}


def test_round_trip_keeps_the_whole_query() -> None:
    query = _query(verb="http://v", limit="5", ascending="true", since="2026-01-01T00:00:00Z")
    again = TOKENS.open(TOKENS.issue(query, now=NOW), tenant="t", now=NOW)
    assert again == query
    assert (again.verb, again.limit, again.ascending, again.after_us, again.after_id) == ("http://v", 5, True, 123,
                                                                                          "abc")


def test_another_tenant_cannot_use_a_token() -> None:
    error = _rejected(TOKENS.issue(_query(), now=NOW), tenant="other")
    assert "another tenant" in error.body()["error"]["message"]


def test_key_rotation_accepts_the_previous_key_and_forgets_removed_ones() -> None:
    old = MoreTokens([b"old-key"], ttl_s=86_400)
    rotated = MoreTokens([b"new-key", b"old-key"], ttl_s=86_400)
    open_page = old.issue(_query(), now=NOW)
    assert rotated.open(open_page, tenant="t", now=NOW + 60).after_id == "abc"
    assert rotated.issue(_query(), now=NOW).split(".")[2] != open_page.split(".")[2]
    _rejected(open_page, MoreTokens([b"new-key"], ttl_s=86_400))


def test_tokens_expire_after_their_lifetime() -> None:
    token = TOKENS.issue(_query(), now=NOW)
    assert TOKENS.open(token, tenant="t", now=NOW + 86_000).after_id == "abc"
    with pytest.raises(XAPIError) as err:
        TOKENS.open(token, tenant="t", now=NOW + 86_401)
    assert err.value.status == 400 and "expired" in err.value.body()["error"]["message"]


@pytest.mark.parametrize("change", [
    {"limit": 5000}, {"limit": -5}, {"limit": 0}, {"limit": "abc"}, {"limit": 5.0}, {"limit": True},
    {"after_us": None}, {"after_us": "1"}, {"after_us": 2**63}, {"has_after": 0}, {"has_after": 2},
    {"after_id": ""}, {"ascending": 1}, {"format": "pretty"}, {"verb": 7}, {"verb": "x" * 5000},
    {"tenant": "other"}, {"issued_s": "now"}, {"extra": 1},
])
def test_a_signed_payload_is_still_checked_field_by_field(change: dict) -> None:
    # Even with the key (leaked, or a token of another release) no value outside its type and range gets through.
    state = _state(TOKENS.issue(_query(), now=NOW)) | change
    _rejected(_forge(state))


def test_a_signed_payload_missing_a_field_or_not_an_object_is_rejected() -> None:
    state = _state(TOKENS.issue(_query(), now=NOW))
    del state["limit"]
    _rejected(_forge(state))
    _rejected(_forge([1, 2]))  # type: ignore[arg-type]


def test_the_unsigned_tokens_of_the_previous_release_are_rejected() -> None:
    legacy = _b64(orjson.dumps(_state(TOKENS.issue(_query(), now=NOW))))
    _rejected(legacy)


def test_the_host_key_is_created_once_and_shared(tmp_path: Path) -> None:
    conf = Settings(state_dir=tmp_path)
    first, second = MoreTokens.from_settings(conf), MoreTokens.from_settings(conf)
    assert first.keys == second.keys and len(first.keys[0]) == 64
    assert MoreTokens.from_settings(Settings(state_dir=tmp_path, more_token_keys="a, b")).keys == [b"a", b"b"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_400(text: str) -> None:
    _rejected(text)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_change_to_a_token_is_400(data: st.DataObject) -> None:
    token = TOKENS.issue(_query(verb="http://v", limit=str(data.draw(st.integers(1, MAX_LIMIT)))), now=NOW)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "))
    cut = data.draw(st.booleans())
    tampered = token[:position] + ("" if cut else replacement) + token[position + 1:]
    if tampered != token:
        _rejected(tampered)


VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                  st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _opens_capped_or_400(state: object) -> None:
    try:
        query = TOKENS.open(_forge(state), tenant="t", now=NOW)  # type: ignore[arg-type]
    except XAPIError as exc:
        assert exc.status == 400
    else:
        assert 1 <= query.limit <= MAX_LIMIT and query.tenant == "t" and query.has_after == 1


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(token_module._FIELDS | {"issued_s"})), VALUES)
def test_any_value_in_a_signed_payload_opens_to_a_capped_query_or_is_400(name: str, value: object) -> None:
    _opens_capped_or_400(_state(TOKENS.issue(_query(), now=NOW)) | {name: value})


@settings(max_examples=200, deadline=None)
@given(st.one_of(VALUES, st.dictionaries(st.sampled_from(sorted(token_module._FIELDS | {"issued_s", "x"})), VALUES)))
def test_any_signed_payload_opens_to_a_capped_query_or_is_400(state: object) -> None:
    _opens_capped_or_400(state)
