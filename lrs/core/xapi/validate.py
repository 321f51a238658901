"""Public entry points: validate statements as the HTTP layer receives them, and normalize them for storage."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from lrs.core.xapi.common import V1, V2
from lrs.core.xapi.context import CONTEXT_ACTIVITY_TYPES
from lrs.core.xapi.errors import XAPIValidationError, from_pydantic, statement_prefix
from lrs.core.xapi.statement import Statement


def spec_for(version: str) -> str:
    """The rule set (``"1.0.3"`` or ``"2.0.0"``) for an xAPI version string such as ``1.0.3`` or ``2.0``."""
    if version == V1 or version.startswith("1.0"):
        return V1
    if version == V2 or version.startswith("2.0"):
        return V2
    raise ValueError(f"unsupported xAPI version {version!r}; use 1.0.3 or 2.0.0")


def validate_statement(data: object, *, version: str = V1, index: int | None = None) -> Statement:
    """Validate one statement (parsed JSON) against the rules of xAPI ``version`` ("1.0.3" or "2.0.0").

    ``index`` is the statement's position in a batch, used in error messages. Raises
    :class:`XAPIValidationError` naming the statement, the property path and the rule on any broken rule.
    """
    rules = spec_for(version)
    if not isinstance(data, dict):
        raise XAPIValidationError(f"{statement_prefix(index)}: a statement must be a JSON object",
                                  index=index, path=statement_prefix(index))
    try:
        return Statement.model_validate(data, context={"version": rules})
    except ValidationError as exc:
        raise from_pydantic(exc, data, index=index) from None


def validate_statements(data: object, *, version: str = V1) -> int:
    """Validate a request body: one statement object, or a non-empty array of them; returns how many.

    Raises :class:`XAPIValidationError` for the first bad statement, naming its index. The validated
    models are dropped at once: keeping a batch's thousands of objects alive made the garbage collector
    rescan them, which cost more than the validation itself.
    """
    if isinstance(data, dict):
        validate_statement(data, version=version)
        return 1
    if not isinstance(data, list):
        raise XAPIValidationError("the body must be a statement object or an array of statements")
    if not data:
        raise XAPIValidationError("the array of statements is empty")
    for i, item in enumerate(data):
        validate_statement(item, version=version, index=i)
    return len(data)


def _normalized_context(context: Any) -> Any:
    if not isinstance(context, dict) or not isinstance(context.get("contextActivities"), dict):
        return context
    activities = context["contextActivities"]
    # Data 2.4.6.2.s4.b3-b4: the LRS MUST return every contextActivities value as an array.
    for value in activities.values():
        if isinstance(value, dict):
            break
    else:
        return context  # already arrays (most clients): no copy, and no deep comparison of the lists
    fixed = {key: [value] if key in CONTEXT_ACTIVITY_TYPES and isinstance(value, dict) else value
             for key, value in activities.items()}
    return {**context, "contextActivities": fixed}


def normalize_statement(statement: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a validated statement; ``statement`` itself is not modified.

    - single Activities in contextActivities (also a SubStatement's) become one-element arrays;
    - a ``"timestamp": null`` (tolerated for xAPI 2.0) is dropped, so the LRS sets the timestamp itself.
    """
    result = dict(statement)
    if "timestamp" in result and result["timestamp"] is None:
        del result["timestamp"]
    if "context" in result:
        result["context"] = _normalized_context(result["context"])
    obj = result.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement" and "context" in obj:
        result["object"] = {**obj, "context": _normalized_context(obj["context"])}
    return result


def validate_actor(actor: object, *, version: str = V1) -> None:
    """Validate an Agent or Group given on its own (a query parameter, a CLI argument).

    Raises :class:`XAPIValidationError` whose message is the property path inside the actor and the rule,
    e.g. ``.mbox: must be a mailto: IRI``.
    """
    probe = {"actor": actor, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
             "object": {"id": "http://example.com/probe"}}
    try:
        validate_statement(probe, version=version)
    except XAPIValidationError as exc:
        raise XAPIValidationError(exc.message.removeprefix("statement.actor")) from None
