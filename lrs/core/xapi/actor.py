"""Actors (Data 2.4.2): Agent, Group, Account and the Inverse Functional Identifiers (IFIs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    StrictStr,
    Tag,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from lrs.core.xapi.common import IRL, URI, MailtoIRI, Sha1Hex, ValidatedOnce, XAPIModel, absent, rule_error
from lrs.core.xapi.errors import OBJECT_TYPE_ERROR

IFI_PROPERTIES = ("mbox", "mbox_sha1sum", "openid", "account")
_AGENTS = ValidatedOnce()


class Account(XAPIModel):
    """A user account on an existing system (Data 2.4.2.4)."""

    homePage: IRL
    name: StrictStr

    # Data 2.4.2.4: "name" is the unique id or name used to log in; an empty one identifies nobody.
    @field_validator("name")
    @classmethod
    def _name_not_empty(cls, value: str) -> str:
        if not value:
            raise rule_error("must not be empty (it identifies the account)")
        return value


class _Identified(XAPIModel):
    """Properties shared by Agents and Groups: a name and the four IFIs (Data 2.4.2.3)."""

    name: StrictStr = absent()
    mbox: MailtoIRI = absent()
    mbox_sha1sum: Sha1Hex = absent()
    openid: URI = absent()
    account: Account = absent()

    def ifi_properties(self) -> list[str]:
        """Names of the IFI properties that are set."""
        return [prop for prop in IFI_PROPERTIES if getattr(self, prop) is not None]


def _ifi_count_problem(found: list[str], what: str) -> str | None:
    if not found:
        return f"{what} must have exactly one IFI (mbox, mbox_sha1sum, openid or account); found none"
    if len(found) > 1:
        return f"{what} must have exactly one IFI (mbox, mbox_sha1sum, openid or account); found {', '.join(found)}"
    return None


class Agent(_Identified):
    """An individual (Data 2.4.2.1)."""

    objectType: Literal["Agent"] = absent()

    # A learner's statements repeat its Agent (and the client's, as authority): each distinct one validated once.
    @model_validator(mode="wrap")
    @classmethod
    def _validated_once(cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        return _AGENTS(data, handler, info)

    # Data 2.4.2.1.s2.b1-b2: an Agent MUST be identified by one, and not more than one, IFI.
    @model_validator(mode="after")
    def _exactly_one_ifi(self) -> Agent:
        problem = _ifi_count_problem(self.ifi_properties(), "an Agent")
        if problem:
            raise rule_error(problem)
        return self


class Group(_Identified):
    """An anonymous or identified Group of Agents (Data 2.4.2.2)."""

    objectType: Literal["Group"]
    member: list[Agent] = absent()

    # Data 2.4.2.2.s4.b2 / s5.b2: a Group MUST NOT contain Group Objects in its "member" property.
    @field_validator("member", mode="before")
    @classmethod
    def _members_are_agents(cls, value: Any) -> Any:
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict) and item.get("objectType") == "Group":
                    raise rule_error("Group members must be Agents; Groups cannot be nested", (i, "objectType"))
        return value

    # Data 2.4.2.2.s4.b1: an Anonymous Group MUST include "member";
    # Data 2.4.2.2.s5.b1: an Identified Group MUST include exactly one IFI.
    @model_validator(mode="after")
    def _anonymous_or_identified(self) -> Group:
        found = self.ifi_properties()
        if not found:
            if not self.member:
                raise rule_error("an anonymous Group (no IFI) must list its Agents in a non-empty \"member\"")
            return self
        problem = _ifi_count_problem(found, "an identified Group")
        if problem:
            raise rule_error(problem)
        return self

    @property
    def is_anonymous(self) -> bool:
        """True when the Group has no IFI."""
        return not self.ifi_properties()


def _actor_tag(value: Any) -> str | None:
    # Data 2.4.2: objectType is "Agent" (the default) or "Group"; values are case-sensitive (Data 2.2.s4.b1.b6).
    if not isinstance(value, dict):
        return "Agent"  # let the Agent model report the wrong type
    kind = value.get("objectType")
    if kind is None:
        return "Agent"
    return kind if kind in ("Agent", "Group") else None


def agent_or_group() -> Discriminator:
    """Dispatch on objectType between Agent and Group, with a readable error for other values."""
    return Discriminator(
        _actor_tag,
        custom_error_type=OBJECT_TYPE_ERROR,
        custom_error_message="must be 'Agent' or 'Group' (case-sensitive)",
    )


Actor = Annotated[
    Annotated[Agent, Tag("Agent")] | Annotated[Group, Tag("Group")],
    agent_or_group(),
]


def actor_ifi(actor: Mapping[str, Any]) -> str:
    """A canonical string for the IFI of an Agent or Group (Kafka key, ClickHouse column).

    ``mbox:mailto:x@y``, ``mbox_sha1sum:<lowercase hex>``, ``openid:<uri>`` or ``account:<homePage>|<name>``.
    An anonymous Group has no IFI: it gets ``group:`` followed by its members' sorted IFIs, comma-separated.
    Returns ``""`` for something with neither (only possible for unvalidated input).
    """
    if not isinstance(actor, Mapping):
        return ""
    if actor.get("mbox"):
        return f"mbox:{actor['mbox']}"
    if actor.get("mbox_sha1sum"):
        return f"mbox_sha1sum:{str(actor['mbox_sha1sum']).lower()}"
    if actor.get("openid"):
        return f"openid:{actor['openid']}"
    account = actor.get("account")
    if isinstance(account, Mapping):
        return f"account:{account.get('homePage', '')}|{account.get('name', '')}"
    members = actor.get("member")
    if isinstance(members, list) and members:
        return "group:" + ",".join(sorted(actor_ifi(m) for m in members))
    return ""
