"""The sink's typed reading of a statements message gives the rows of the general path, column for column."""

from __future__ import annotations

import copy

import orjson
import pytest

from lrs.core.kafka.envelope import Envelope, Erasure, decode_any, encode, encode_erasure, encode_statements
from lrs.tools.bench.corpus import stored_form, take
from streams.mapping import COURSE_TYPE, DEFAULT_RULES, MappingRules
from streams.message_rows import message_rows
from streams.rows import statement_row

STORED = "2026-12-04T10:00:00.123Z"
LEARNER = {"objectType": "Agent", "mbox": "mailto:learner@example.com", "name": "L"}


def _general(value: bytes, rules: MappingRules = DEFAULT_RULES) -> list[list]:
    return [statement_row(e, rules) for e in decode_any(value)]


def _message(statements: list[dict], checked: bool = False) -> bytes:
    return encode_statements("acme", "client-1", [orjson.dumps(s) for s in statements], checked=checked)


def _stored(statement: dict) -> dict:
    return stored_form(statement, tenant="acme", client_key="client-1", stored=STORED)


def _base(**parts) -> dict:
    st = {"id": "6F1A0A3C-0000-4000-8000-000000000001", "actor": LEARNER,
          "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
          "object": {"objectType": "Activity", "id": "http://example.com/a",
                     "definition": {"name": {"en-US": "A"}, "type": "http://adlnet.gov/expapi/activities/module"}}}
    st.update(parts)
    return _stored(st)


# Every kind of actor, object, context and result the row reads.
VARIANTS = {
    "identified group actor": _base(actor={"objectType": "Group", "account": {"homePage": "https://x.org", "name": "g"},
                                           "member": [LEARNER, {"openid": "https://id.example.com/u"}]}),
    "anonymous group actor": _base(actor={"objectType": "Group", "member": [
        {"mbox_sha1sum": "ABCDEF0123456789ABCDEF0123456789ABCDEF01"}, LEARNER]}),
    "agent object": _base(object={"objectType": "Agent", "account": {"homePage": "https://x.org", "name": "b"}}),
    "group object": _base(object={"objectType": "Group", "member": [LEARNER], "mbox": "mailto:g@example.com"}),
    "voiding statement": _base(verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                               object={"objectType": "StatementRef", "id": "AAAAAAAA-0000-4000-8000-000000000002"}),
    "statement ref, other verb": _base(object={"objectType": "StatementRef",
                                               "id": "BBBBBBBB-0000-4000-8000-000000000003"}),
    "sub-statement": _base(object={
        "objectType": "SubStatement", "actor": {"mbox": "mailto:peer@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"objectType": "Agent", "mbox": "mailto:other@example.com"},
        "context": {"instructor": {"mbox": "mailto:teacher@example.com"},
                    "contextActivities": {"parent": [{"id": "http://example.com/sub-parent"}]}}}),
    "full context and result": _base(
        context={"registration": "CCCCCCCC-0000-4000-8000-000000000004",
                 "instructor": {"objectType": "Group", "member": [{"mbox": "mailto:t1@example.com"}]},
                 "team": {"objectType": "Group", "mbox": "mailto:team@example.com"},
                 "contextActivities": {"grouping": [{"id": "http://example.com/other"},
                                                    {"id": "http://example.com/c",
                                                     "definition": {"type": COURSE_TYPE}}],
                                       "category": [{"id": "http://example.com/cat"}],
                                       "parent": {"id": "http://example.com/single-parent"}},
                 "extensions": {"http://example.com/ext": {"deep": [1, 2, None]}}},
        result={"success": False, "completion": True, "score": {"scaled": 1, "raw": 5},
                "duration": "PT1H2M3.5S", "extensions": {"http://example.com/r": "x"}}),
    "xAPI 2.0 context agents and groups": _base(
        context={"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:ca@example.com"},
                                    "relevantTypes": ["http://example.com/t"]}],
                 "contextGroups": [{"objectType": "contextGroup",
                                    "group": {"objectType": "Group", "member": [{"mbox": "mailto:cg@example.com"}]}}]}),
    "no timestamp given, other stored time": {**_base(), "timestamp": "2026-12-04T11:00:00+01:00"},
    "score scaled as a float, no definition": _base(object={"id": "http://example.com/plain"},
                                                    result={"score": {"scaled": -0.25}}),
    "unicode and escapes": _base(object={"id": "http://example.com/é", "definition": {
        "name": {"fr": "Écrire \"vite\"\n\u2028 ✓"}}}),
}


def test_the_corpus_gives_the_general_paths_rows() -> None:
    statements = [_stored(s) for s in take(1500)]
    value = _message(statements)
    fast = message_rows(value, lambda tenant: DEFAULT_RULES)
    assert fast is not None
    tenant, checked, rows = fast
    assert (tenant, checked) == ("acme", False)
    assert rows == _general(value)
    assert {r[13] for r in rows} != {""} and {r[14] for r in rows} != {""}  # courses and modules were mapped


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_kind_of_statement_gives_the_general_paths_row(name: str) -> None:
    value = _message([VARIANTS[name]], checked=True)
    fast = message_rows(value, lambda tenant: DEFAULT_RULES)
    assert fast is not None and fast[1] is True
    assert fast[2] == _general(value)


def test_a_tenants_own_mapping_rules_apply() -> None:
    rules = MappingRules(course_types=("http://adlnet.gov/expapi/activities/module",), module_types=())
    value = _message([_base()])
    fast = message_rows(value, lambda tenant: rules)
    assert fast is not None
    assert fast[2] == _general(value, rules)
    assert fast[2][0][13] == "http://example.com/a"


@pytest.mark.parametrize("value", [
    None, b"", b"not json", orjson.dumps({"v": 2, "tenant": "t", "statements": [{"id": "x"}]}),
    encode_erasure(Erasure("t", "r1", ("mbox:mailto:a@b.c",), 1)),
    encode(Envelope("t", _base(), "k")),  # the one-statement form: the general path reads it
    _message([{**_base(), "result": {"success": "yes"}}]),  # a part of the wrong type
    _message([{k: v for k, v in _base().items() if k != "stored"}]),
    orjson.dumps({"v": 1, "tenant": "t", "statements": [_base()], "erase": {"request_id": "r"}}),
], ids=["none", "empty", "not json", "version", "erasure", "single", "wrong type", "no stored", "erase key"])
def test_what_it_does_not_take_on_goes_to_the_general_path(value: bytes | None) -> None:
    assert message_rows(value, lambda tenant: DEFAULT_RULES) is None


def test_the_statement_column_is_the_statements_bytes_from_the_message() -> None:
    statement = copy.deepcopy(VARIANTS["unicode and escapes"])
    fast = message_rows(_message([statement]), lambda tenant: DEFAULT_RULES)
    assert fast is not None
    assert fast[2][0][21] == orjson.dumps(statement).decode()
