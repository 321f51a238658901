"""The public entry points of lrs.core.xapi: batch validation, error messages, normalization, actor IFIs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lrs.core.xapi import XAPIValidationError, actor_ifi, normalize_statement, validate_statement, validate_statements

GOOD = {"actor": {"mbox": "mailto:a@example.com"}, "verb": {"id": "http://example.com/v"},
        "object": {"id": "http://example.com/o"}}


def good(**extra: Any) -> dict[str, Any]:
    """A valid statement plus ``extra``."""
    return {**copy.deepcopy(GOOD), **extra}


def test_single_statement_and_list() -> None:
    assert validate_statements(good()) == 1
    assert validate_statements([good(), good(), good()], version="2.0.0") == 3


@pytest.mark.parametrize(("body", "fragment"), [([], "empty"), ("x", "statement object or an array"),
                                                 (None, "statement object or an array"), (3, "array")])
def test_bad_bodies(body: Any, fragment: str) -> None:
    with pytest.raises(XAPIValidationError, match=fragment):
        validate_statements(body)


def test_first_bad_statement_is_named_by_index() -> None:
    bad = good(actor={"mbox": "learner@example.com"})
    with pytest.raises(XAPIValidationError) as info:
        validate_statements([good(), good(), good(), bad, good(verb={"id": "nope"})])
    error = info.value
    assert str(error) == "statements[3].actor.mbox: must be a mailto: IRI, e.g. mailto:learner@example.com " \
                         '(got "learner@example.com")'
    assert error.index == 3
    assert error.path == "statements[3].actor.mbox"
    assert isinstance(error, ValueError)


def test_non_object_in_batch() -> None:
    with pytest.raises(XAPIValidationError, match=r"^statements\[1\]: a statement must be a JSON object$"):
        validate_statements([good(), "not a statement"])


def test_several_problems_are_listed_briefly() -> None:
    with pytest.raises(XAPIValidationError) as info:
        validate_statement({"a": 1, "b": 2, "c": 3, "d": 4})
    message = str(info.value)
    assert message.count("; ") == 2 and message.endswith("more)")
    assert "https://" not in message  # never pydantic's documentation URLs


def test_single_statement_index_defaults_to_none() -> None:
    with pytest.raises(XAPIValidationError) as info:
        validate_statement(good(result={"success": "true"}), index=None)
    assert info.value.index is None
    assert str(info.value).startswith("statement.result.success: must be a boolean")


def test_error_constructor_keywords() -> None:
    error = XAPIValidationError("x: broken", index=2, path="statements[2].x")
    assert (str(error), error.index, error.path) == ("x: broken", 2, "statements[2].x")


def test_extension_keys_are_quoted_in_paths() -> None:
    data = good(result={"extensions": {"http://example.com/e": 1}, "score": {"raw": "1"}})
    with pytest.raises(XAPIValidationError, match=r"^statement\.result\.score\.raw: must be a number"):
        validate_statement(data)


def test_normalize_wraps_context_activities_without_touching_input() -> None:
    parent = {"id": "http://example.com/p"}
    original = good(
        context={"contextActivities": {"parent": parent, "grouping": [parent]}},
        object={"objectType": "SubStatement", "actor": {"mbox": "mailto:b@example.com"},
                "verb": {"id": "http://example.com/v"}, "object": {"id": "http://example.com/o"},
                "context": {"contextActivities": {"category": parent}}},
    )
    snapshot = copy.deepcopy(original)
    normalized = normalize_statement(original)
    assert original == snapshot
    assert normalized["context"]["contextActivities"] == {"parent": [parent], "grouping": [parent]}
    assert normalized["object"]["context"]["contextActivities"] == {"category": [parent]}
    validate_statement(normalized)


def test_normalize_drops_null_timestamp() -> None:
    data = good(timestamp=None)
    validate_statement(data, version="2.0.0")
    assert "timestamp" not in normalize_statement(data)
    assert normalize_statement(good(timestamp="2020-01-01T00:00:00Z"))["timestamp"] == "2020-01-01T00:00:00Z"


def test_normalize_leaves_plain_statements_alone() -> None:
    data = good()
    assert normalize_statement(data) == data


@pytest.mark.parametrize(
    ("actor", "ifi"),
    [
        ({"mbox": "mailto:x@example.com", "name": "X"}, "mbox:mailto:x@example.com"),
        ({"mbox_sha1sum": "CD9B00A5611F94EAA7B1661EDAB976068E364975"},
         "mbox_sha1sum:cd9b00a5611f94eaa7b1661edab976068e364975"),
        ({"openid": "http://openid.example.org/12345"}, "openid:http://openid.example.org/12345"),
        ({"account": {"homePage": "http://www.example.com", "name": "u1"}}, "account:http://www.example.com|u1"),
        ({"objectType": "Group", "mbox": "mailto:team@example.com", "member": [{"mbox": "mailto:a@example.com"}]},
         "mbox:mailto:team@example.com"),
        ({"objectType": "Group", "member": [{"mbox": "mailto:b@example.com"}, {"openid": "http://o.example/a"}]},
         "group:mbox:mailto:b@example.com,openid:http://o.example/a"),
        ({}, ""),
    ],
)
def test_actor_ifi(actor: dict[str, Any], ifi: str) -> None:
    assert actor_ifi(actor) == ifi


def test_anonymous_group_ifi_ignores_member_order() -> None:
    a, b = {"mbox": "mailto:a@example.com"}, {"mbox": "mailto:b@example.com"}
    assert actor_ifi({"objectType": "Group", "member": [a, b]}) == actor_ifi({"objectType": "Group", "member": [b, a]})
