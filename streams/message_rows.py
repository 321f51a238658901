"""Raw-table rows straight from a statements message, without building each statement as Python dicts.

The sink's general path (``decode_any`` then :func:`streams.rows.statement_row`) decodes every statement into
dicts and serializes it again for the ``statement`` column: about 19 ms of the worker's CPU per 1,000 statements.
Here msgspec reads the message against typed views that name only what a row needs (everything else, the
activity definitions, extensions and language maps that are most of a statement, is skipped unparsed), and the
``statement`` column is the statement's own bytes from the message: the LRS serialized it with orjson
(``lrs.core.kafka.envelope.group_request``), which is the compact form ``statement_row`` writes too.

The rows are those of ``statement_row``, column for column (tests/unit/test_message_rows.py compares both on
the corpus and on every kind of actor, object and context). Anything this path does not take on (an erasure, an
unreadable message, a statement whose parts do not have the expected types) gets ``None``, and the sink uses the
general path, which also says what is wrong with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import msgspec

from lrs.core.kafka.envelope import ENVELOPE_VERSION
from lrs.core.util.timeparse import duration_seconds, timestamp_micros
from lrs.core.xapi import actor_ifi
from streams.mapping import MappingRules
from streams.rows import VOIDED_VERB, stored_micros


class _Account(msgspec.Struct, frozen=True):
    homePage: str = ""  # noqa: N815 - the xAPI property name
    name: str = ""


class _Agent(msgspec.Struct, frozen=True):
    """An Agent or Group; frozen, so hashable: a learner's and a client's IFIs are worked out once per process."""

    objectType: str | None = None  # noqa: N815
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    openid: str | None = None
    account: _Account | None = None
    member: tuple[_Agent, ...] | None = None


@functools.lru_cache(maxsize=65536)
def _ifi(agent: _Agent) -> str:
    """``actor_ifi`` of the agent, once per distinct agent (read from the JSON object the struct holds)."""
    return actor_ifi(msgspec.json.decode(msgspec.json.encode(agent)))


@functools.lru_cache(maxsize=65536)
def _with_members(agent: _Agent | None) -> tuple[str, ...]:
    """IFI of an Agent/Group plus the IFIs of a Group's members, the empty ones left out."""
    if agent is None:
        return ()
    return tuple(i for i in (_ifi(agent), *(_ifi(m) for m in agent.member or ())) if i)


class _Definition(msgspec.Struct):
    type: str = ""


class _Activity(msgspec.Struct):
    id: str | None = None
    definition: _Definition | None = None


class _Verb(msgspec.Struct):
    id: str = ""


class _Score(msgspec.Struct):
    scaled: float | None = None


class _Result(msgspec.Struct):
    success: bool | None = None
    completion: bool | None = None
    score: _Score | None = None
    duration: str | None = None


class _ContextAgent(msgspec.Struct):
    agent: _Agent | None = None


class _ContextGroup(msgspec.Struct):
    group: _Agent | None = None


class _Context(msgspec.Struct):
    registration: str = ""
    instructor: _Agent | None = None
    team: _Agent | None = None
    contextAgents: list[_ContextAgent] | None = None  # noqa: N815 - the xAPI property name
    contextGroups: list[_ContextGroup] | None = None  # noqa: N815
    # Kept in the statement's key order: the related activities are listed in that order.
    contextActivities: dict[str, list[_Activity] | _Activity] | None = None  # noqa: N815


class _Object(msgspec.Struct):
    """Any statement object: Activity, Agent, Group, StatementRef or SubStatement (its ``objectType`` says)."""

    objectType: str = "Activity"  # noqa: N815
    id: str | None = None
    definition: _Definition | None = None
    # Agent / Group
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    openid: str | None = None
    account: _Account | None = None
    member: tuple[_Agent, ...] | None = None
    # SubStatement
    actor: _Agent | None = None
    verb: _Verb | None = None
    object: _Object | None = None
    context: _Context | None = None


class _Statement(msgspec.Struct):
    id: str
    stored: str
    timestamp: str | None = None
    actor: _Agent | None = None
    verb: _Verb | None = None
    object: _Object | None = None
    result: _Result | None = None
    context: _Context | None = None
    authority: _Agent | None = None


class _Message(msgspec.Struct):
    v: int
    tenant: str
    statements: list[msgspec.Raw]
    client: str = ""
    checked: bool = False
    erase: msgspec.Raw | None = None  # an erasure: the general path reads it


_message = msgspec.json.Decoder(_Message)
_statement = msgspec.json.Decoder(_Statement)


def _object_agent(obj: _Object) -> _Agent:
    return _Agent(obj.objectType, obj.mbox, obj.mbox_sha1sum, obj.openid, obj.account, obj.member)


def _as_list(value: list[_Activity] | _Activity | None) -> list[_Activity]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _related(agents_of: _Agent | None, obj: _Object | None, context: _Context | None,
             authority: _Agent | None) -> tuple[list[str], list[str], list[str]]:
    """(agents, related agents, related activities), as ``streams.rows._related`` lists them."""
    agents = list(_with_members(agents_of))
    if obj is not None and obj.objectType in ("Agent", "Group"):
        agents += _with_members(_object_agent(obj))
    related_agents = agents + list(_with_members(authority))
    activities: list[str] = []
    if obj is not None and obj.objectType == "Activity" and obj.id is not None:
        activities.append(obj.id)
    if context is not None:
        related_agents += _with_members(context.instructor)
        related_agents += _with_members(context.team)
        for item in context.contextAgents or []:
            related_agents += _with_members(item.agent)
        for item in context.contextGroups or []:
            related_agents += _with_members(item.group)
        for value in (context.contextActivities or {}).values():
            activities += [a.id for a in _as_list(value) if a.id is not None]
    if obj is not None and obj.objectType == "SubStatement":
        _, sub_related, sub_activities = _related(obj.actor, obj.object, obj.context, None)
        related_agents += sub_related
        activities += sub_activities
    return list(dict.fromkeys(agents)), list(dict.fromkeys(related_agents)), list(dict.fromkeys(activities))


def _first_of_type(candidates: list[_Activity | _Object], types: tuple[str, ...]) -> str:
    # Plain loops: the sink runs this twice per statement, and generator expressions cost more than the test.
    for a in candidates:
        definition = a.definition
        if definition is not None and definition.type in types and a.id is not None:
            return a.id
    return ""


def _course_module(obj: _Object | None, context: _Context | None, rules: MappingRules) -> tuple[str, str]:
    """``streams.mapping.map_course_module`` on the typed view."""
    activities = (context.contextActivities if context is not None else None) or {}
    parents = _as_list(activities.get("parent"))
    grouping = _as_list(activities.get("grouping"))
    # The object itself heads the candidates when it is an Activity (an _Object has an Activity's id and definition).
    own = [obj] if obj is not None and obj.objectType == "Activity" and obj.id is not None else []
    course = _first_of_type(own + parents + grouping, rules.course_types)
    if not course:
        for a in grouping + parents:
            if a.id is not None:
                course = a.id
                break
    return course, _first_of_type(own + parents, rules.module_types)


def _row(tenant: str, client_key: str, st: _Statement, raw: bytes, rules: MappingRules) -> list[Any]:
    obj, result, context = st.object, st.result, st.context
    agents, related_agents, related_activities = _related(st.actor, obj, context, st.authority)
    course, module = _course_module(obj, context, rules)
    object_type = obj.objectType if obj is not None else "Activity"
    object_id = (obj.id or "") if obj is not None else ""
    verb_id = st.verb.id if st.verb is not None else ""
    stored_us = stored_micros(st.stored)
    timestamp = st.timestamp or st.stored
    scaled = result.score.scaled if result is not None and result.score is not None else None
    duration = result.duration if result is not None else None
    voiding = object_id.lower() if verb_id == VOIDED_VERB and object_type == "StatementRef" else ""
    # COLUMNS order of streams/rows.py.
    return [
        tenant,
        st.id.lower(),
        stored_us,
        stored_us if timestamp == st.stored else timestamp_micros(timestamp),
        _ifi(st.actor) if st.actor is not None else "",
        verb_id,
        object_id.lower() if object_type == "StatementRef" else object_id,
        object_type,
        context.registration.lower() if context is not None else "",
        agents,
        related_agents,
        related_activities,
        client_key,
        course,
        module,
        None if result is None or result.success is None else int(result.success),
        None if result is None or result.completion is None else int(result.completion),
        scaled,
        duration_seconds(duration) if duration is not None else None,
        voiding,
        0,  # voided
        str(raw, "utf-8"),
        0,  # version
    ]


def message_rows(value: bytes | None, rules_for: Callable[[str], MappingRules]
                 ) -> tuple[str, bool, list[list[Any]]] | None:
    """``(tenant, checked, rows)`` of a statements message, or None for the general path (see the module doc)."""
    if not value:
        return None
    try:
        message = _message.decode(value)
        if message.v != ENVELOPE_VERSION or not message.tenant or not message.statements or message.erase is not None:
            return None
        rules = rules_for(message.tenant)
        rows = [_row(message.tenant, message.client, _statement.decode(raw), raw, rules)
                for raw in message.statements]
    except (msgspec.DecodeError, ValueError, TypeError, KeyError):
        return None
    return message.tenant, message.checked, rows
