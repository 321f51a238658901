"""The Context (Data 2.4.6): contextActivities, and the xAPI 2.0 contextAgents / contextGroups."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, StrictStr, ValidationInfo, field_validator, model_validator

from lrs.core.xapi.activity import Activity
from lrs.core.xapi.actor import Actor, Agent, Group
from lrs.core.xapi.common import IRI, UUID, V1, Extensions, LanguageTag, XAPIModel, absent, rule_error, spec_version
from lrs.core.xapi.statement_ref import StatementRef

CONTEXT_ACTIVITY_TYPES = ("parent", "grouping", "category", "other")
V2_ONLY = ("contextAgents", "contextGroups")


def _as_list(value: Any) -> Any:
    # Data 2.4.6.2.s4.b2: a value is a single Activity or an array of Activities; the model always holds a list
    # (the input is left untouched: see normalize_statement for the stored form).
    return [value] if isinstance(value, dict) else value


ActivityList = Annotated[list[Activity], BeforeValidator(_as_list)]


class ContextActivities(XAPIModel):
    """Activities related to the Statement, by kind of relation (Data 2.4.6.2)."""

    # Data 2.4.6.2.s4.b1: every key MUST be one of parent, grouping, category or other (extra="forbid").
    parent: ActivityList = absent()
    grouping: ActivityList = absent()
    category: ActivityList = absent()
    other: ActivityList = absent()


def _relevant_types_not_empty(value: list[str] | None) -> list[str] | None:
    if value is not None and not value:
        raise rule_error("must not be an empty array when present")
    return value


class ContextAgent(XAPIModel):
    """An Agent with a role in the Statement besides the Actor (xAPI 2.0)."""

    # xAPI 2.0 Context Agent: objectType MUST be "contextAgent", "agent" MUST be an Agent.
    objectType: Literal["contextAgent"]
    agent: Agent
    relevantTypes: list[IRI] = absent()

    # xAPI 2.0 Context Agent: relevantTypes, when present, is a non-empty array of IRIs.
    @field_validator("relevantTypes")
    @classmethod
    def _relevant_types(cls, value: list[str] | None) -> list[str] | None:
        return _relevant_types_not_empty(value)


class ContextGroup(XAPIModel):
    """A Group with a role in the Statement besides the Actor (xAPI 2.0)."""

    # xAPI 2.0 Context Group: objectType MUST be "contextGroup", "group" MUST be a Group.
    objectType: Literal["contextGroup"]
    group: Group
    relevantTypes: list[IRI] = absent()

    # xAPI 2.0 Context Group: relevantTypes, when present, is a non-empty array of IRIs.
    @field_validator("relevantTypes")
    @classmethod
    def _relevant_types(cls, value: list[str] | None) -> list[str] | None:
        return _relevant_types_not_empty(value)


class Context(XAPIModel):
    """Contextual information of a Statement; every property is optional (Data 2.4.6)."""

    registration: UUID = absent()
    instructor: Actor = absent()
    team: Group = absent()
    contextActivities: ContextActivities = absent()
    revision: StrictStr = absent()
    platform: StrictStr = absent()
    language: LanguageTag = absent()
    statement: StatementRef = absent()
    extensions: Extensions = absent()
    contextAgents: list[ContextAgent] = absent()
    contextGroups: list[ContextGroup] = absent()

    # xAPI 2.0 added contextAgents and contextGroups; a 1.0.3 statement must not use them.
    @model_validator(mode="before")
    @classmethod
    def _v2_properties(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and spec_version(info) == V1:
            for key in V2_ONLY:
                if key in data:
                    raise rule_error("is only allowed in xAPI 2.0 statements", (key,))
        return data
