"""Statements (Data 2.4), SubStatements, and the Statement object union by objectType."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, Self

from pydantic import Discriminator, Tag, ValidationInfo, field_validator, model_validator

from lrs.core.xapi.activity import Activity
from lrs.core.xapi.actor import Actor, Agent, Group, agent_or_group
from lrs.core.xapi.attachment import Attachment
from lrs.core.xapi.common import UUID, V2, StatementVersion, Timestamp, XAPIModel, absent, rule_error, spec_version
from lrs.core.xapi.context import Context
from lrs.core.xapi.errors import NULL_REASON, OBJECT_TYPE_ERROR
from lrs.core.xapi.result import Result
from lrs.core.xapi.statement_ref import StatementRef
from lrs.core.xapi.verb import Verb

STATEMENT_OBJECT_TYPES = ("Activity", "Agent", "Group", "StatementRef", "SubStatement")
SUBSTATEMENT_OBJECT_TYPES = ("Activity", "Agent", "Group", "StatementRef")
SUBSTATEMENT_FORBIDDEN = ("id", "stored", "version", "authority")


def _object_tagger(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    # Data 2.4.4.s2: objectType defaults to "Activity"; other values are case-sensitive names of allowed kinds.
    def tag(value: Any) -> str | None:
        if not isinstance(value, dict):
            return "Activity"  # let the Activity model report the wrong type
        kind = value.get("objectType")
        if kind is None:
            return "Activity"
        return kind if kind in allowed else None

    return tag


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{name}'" for name in names)


class _StatementBase(XAPIModel):
    """What Statements and SubStatements share: actor, verb, result, context, timestamp, attachments."""

    actor: Actor
    verb: Verb
    result: Result = absent()
    context: Context = absent()
    timestamp: Timestamp = absent()
    attachments: list[Attachment] = absent()

    # Data 2.4.6.s4.b1-b2: context "revision" and "platform" MUST only be used if the object is an Activity.
    @model_validator(mode="after")
    def _revision_platform_need_activity(self) -> Self:
        obj = getattr(self, "object", None)
        if self.context is not None and not isinstance(obj, Activity):
            for prop in ("revision", "platform"):
                if getattr(self.context, prop) is not None:
                    raise rule_error("is only allowed when the statement's object is an Activity", ("context", prop))
        return self

    # Data 2.3.2.s2.b1-b2: a voiding Statement's object MUST be a StatementRef to the voided Statement.
    @model_validator(mode="after")
    def _voiding_targets_statement_ref(self) -> Self:
        if self.verb.is_voiding and not isinstance(getattr(self, "object", None), StatementRef):
            raise rule_error("must be a StatementRef (objectType 'StatementRef') when the verb is "
                             "http://adlnet.gov/expapi/verbs/voided", ("object",))
        return self


class SubStatement(_StatementBase):
    """A Statement included as the object of another Statement (Data 2.4.4.3)."""

    # Data 2.4.4.3.s8.b1: a SubStatement MUST specify objectType "SubStatement".
    objectType: Literal["SubStatement"]
    # Data 2.4.4.3.s8.b4: a SubStatement MUST NOT contain a SubStatement of its own.
    object: Annotated[
        Annotated[Activity, Tag("Activity")]
        | Annotated[Agent, Tag("Agent")]
        | Annotated[Group, Tag("Group")]
        | Annotated[StatementRef, Tag("StatementRef")],
        Discriminator(
            _object_tagger(SUBSTATEMENT_OBJECT_TYPES),
            custom_error_type=OBJECT_TYPE_ERROR,
            custom_error_message=f"must be one of {_quoted(SUBSTATEMENT_OBJECT_TYPES)} in a SubStatement "
            "(case-sensitive; SubStatements cannot be nested)",
        ),
    ]

    # Data 2.4.4.3.s8.b3: a SubStatement MUST NOT have the "id", "stored", "version" or "authority" properties.
    @model_validator(mode="before")
    @classmethod
    def _no_statement_only_properties(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in SUBSTATEMENT_FORBIDDEN:
                if key in data:
                    raise rule_error("is not allowed in a SubStatement (id, stored, version and authority are not)",
                                     (key,))
        return data


StatementObject = Annotated[
    Annotated[Activity, Tag("Activity")]
    | Annotated[Agent, Tag("Agent")]
    | Annotated[Group, Tag("Group")]
    | Annotated[StatementRef, Tag("StatementRef")]
    | Annotated[SubStatement, Tag("SubStatement")],
    Discriminator(
        _object_tagger(STATEMENT_OBJECT_TYPES),
        custom_error_type=OBJECT_TYPE_ERROR,
        custom_error_message=f"must be one of {_quoted(STATEMENT_OBJECT_TYPES)} (case-sensitive)",
    ),
]


class Statement(_StatementBase):
    """An xAPI Statement as sent to the LRS (Data 2.4)."""

    timestamp: Timestamp | None = None

    # Data 2.2.s4.b1.b1: no null values; but xAPI 2.0's conformance suite sends "timestamp": null and expects the
    # LRS to set it (to "stored").
    @field_validator("timestamp", mode="before")
    @classmethod
    def _null_timestamp_only_in_v2(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and spec_version(info) != V2:
            raise rule_error(NULL_REASON)
        return value

    id: UUID = absent()
    object: StatementObject
    # Data 2.4.8.s3.b2: the LRS validates, then overwrites, "stored"; Data 2.4.9.s3.b4 likewise for authority.
    stored: Timestamp = absent()
    authority: Annotated[
        Annotated[Agent, Tag("Agent")] | Annotated[Group, Tag("Group")],
        agent_or_group(),
    ] = absent()
    version: StatementVersion = absent()

    # Data 2.4.9.s3.b1: authority MUST be an Agent, except in 3-legged OAuth, where it MUST be a Group with
    # two Agents (an anonymous Group: the application and the user).
    @field_validator("authority")
    @classmethod
    def _authority_group_is_oauth_pair(cls, value: Agent | Group | None) -> Agent | Group | None:
        if isinstance(value, Group) and (not value.is_anonymous or len(value.member or []) != 2):
            raise rule_error("a Group authority must be an anonymous Group of exactly two Agents (3-legged OAuth)")
        return value
