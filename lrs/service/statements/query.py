"""Statement queries: request parameters -> bound query parameters.

A ``more`` token carries the whole query (filters, order, snapshot bound, last row seen), HMAC-signed by
``lrs.service.statements.token``, so any LRS process can serve the next page.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import orjson

from lrs.core.util.timeparse import timestamp_micros
from lrs.core.xapi import XAPIValidationError, actor_ifi, validate_actor
from lrs.service.errors import XAPIError

MAX_LIMIT = 500
FILTER_PARAMS = {
    "agent", "verb", "activity", "registration", "related_activities", "related_agents", "since", "until",
    "limit", "format", "attachments", "ascending",
}
SINGLE_PARAMS = {"statementId", "voidedStatementId", "format", "attachments"}
FORMATS = ("exact", "ids", "canonical")


@dataclass
class StatementQuery:
    """A parsed statement query (all that is needed to run any page of it)."""

    tenant: str
    agent: str = ""
    related_agents: int = 0
    verb: str = ""
    activity: str = ""
    related_activities: int = 0
    registration: str = ""
    has_since: int = 0
    since_us: int = 0
    has_until: int = 0
    until_us: int = 0
    snapshot_us: int = 0
    client_key: str = ""
    has_after: int = 0
    after_us: int = 0
    after_id: str = ""
    limit: int = MAX_LIMIT
    ascending: bool = False
    format: str = "exact"
    attachments: bool = False

    def filtered(self) -> bool:
        """Whether an agent, verb, activity or registration filter is set."""
        return bool(self.agent or self.verb or self.activity or self.registration)

    def after(self, stored_us: int, statement_id: str) -> StatementQuery:
        """The same query continuing after the given row (what the ``more`` token of a page carries)."""
        return replace(self, has_after=1, after_us=stored_us, after_id=statement_id)


def _bool_param(name: str, value: str) -> bool:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise XAPIError(400, f"parameter {name} must be true or false")


def _time_param(name: str, value: str) -> int:
    try:
        return timestamp_micros(value)
    except ValueError:
        raise XAPIError(400, f"parameter {name} must be an ISO 8601 timestamp") from None


def agent_ifi_param(value: str, version: str) -> tuple[dict[str, Any], str]:
    """Parse and validate an ``agent`` query parameter; return the agent and its IFI (400 if invalid)."""
    try:
        agent = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise XAPIError(400, "parameter agent must be a JSON Agent or Group object") from None
    if not isinstance(agent, dict):
        raise XAPIError(400, "parameter agent must be a JSON Agent or Group object")
    try:
        validate_actor(agent, version=version)
    except XAPIValidationError as exc:
        raise XAPIError(400, f"parameter agent: {exc.message}") from None
    ifi = actor_ifi(agent)
    if not ifi:
        raise XAPIError(400, "parameter agent must identify an Agent or Group")
    return agent, ifi


def parse_query(params: dict[str, str], *, tenant: str, client_key: str, version: str) -> StatementQuery:
    """Validate GET /statements filter parameters (400 with the parameter named on any error)."""
    unknown = set(params) - FILTER_PARAMS
    if unknown:
        raise XAPIError(400, f"unknown query parameters: {', '.join(sorted(unknown))}")
    q = StatementQuery(tenant=tenant, client_key=client_key, snapshot_us=int(time.time() * 1_000_000))
    if "agent" in params:
        q.agent = agent_ifi_param(params["agent"], version)[1]
    if "verb" in params:
        q.verb = params["verb"]
    if "activity" in params:
        q.activity = params["activity"]
    if "registration" in params:
        try:
            q.registration = str(uuid.UUID(params["registration"])).lower()
        except ValueError:
            raise XAPIError(400, "parameter registration must be a UUID") from None
    if "related_activities" in params:
        q.related_activities = int(_bool_param("related_activities", params["related_activities"]))
    if "related_agents" in params:
        q.related_agents = int(_bool_param("related_agents", params["related_agents"]))
    if "since" in params:
        q.has_since, q.since_us = 1, _time_param("since", params["since"])
    if "until" in params:
        q.has_until, q.until_us = 1, _time_param("until", params["until"])
    if "limit" in params:
        if not params["limit"].isdigit():
            raise XAPIError(400, "parameter limit must be a non-negative integer")
        limit = int(params["limit"])
        q.limit = MAX_LIMIT if limit == 0 else min(limit, MAX_LIMIT)
    if "ascending" in params:
        q.ascending = _bool_param("ascending", params["ascending"])
    if "format" in params:
        if params["format"] not in FORMATS:
            raise XAPIError(400, f"parameter format must be one of {', '.join(FORMATS)}")
        q.format = params["format"]
    if "attachments" in params:
        q.attachments = _bool_param("attachments", params["attachments"])
    return q

