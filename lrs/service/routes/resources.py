"""The Agents (Person object) and Activities resources, assembled from stored statements."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from lrs.service.errors import XAPIError
from lrs.service.routes.deps import authenticate, services, xapi_version
from lrs.service.statements.query import agent_ifi_param

router = APIRouter()
READ_SCOPES = ("all/read", "statements/read", "statements/read/mine", "define", "profile", "state")
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


def _reply(request: Request, body: dict[str, Any], consistent_through: str) -> Response:
    headers = {"X-Experience-API-Consistent-Through": consistent_through}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type="application/json")
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


@router.api_route("/xapi/agents", methods=["GET", "HEAD"])
async def get_person(request: Request) -> Response:
    """The Person object for an Agent: every name and identifier this LRS knows for it."""
    version = xapi_version(request)
    client = await authenticate(request, *READ_SCOPES)
    raw = request.query_params.get("agent")
    if raw is None:
        raise XAPIError(400, "the agent parameter is required")
    agent, ifi = agent_ifi_param(raw, version)
    if agent.get("objectType") == "Group":
        raise XAPIError(400, "the agent parameter must be an Agent, not a Group")
    # Both resources are assembled from stored statements: first wait (bounded) for this process's writes.
    consistent = await services(request).consistency.wait(client.tenant)
    rows = await asyncio.to_thread(services(request).clickhouse.run, "agent_names",
                                   {"tenant": client.tenant, "ifi": ifi})
    names = [n for (n,) in rows if n]
    if agent.get("name") and agent["name"] not in names:
        names.insert(0, agent["name"])
    person: dict[str, Any] = {"objectType": "Person"}
    if names:
        person["name"] = names
    for key in IFI_KEYS:
        if key in agent:
            person[key] = [agent[key]]
    return _reply(request, person, consistent)


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    # Later statements add to (and for plain values replace) what earlier ones said.
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _mentions(statement: dict[str, Any], activity_id: str) -> list[dict[str, Any]]:
    found = []
    obj = statement.get("object") or {}
    if obj.get("objectType", "Activity") == "Activity" and obj.get("id") == activity_id:
        found.append(obj)
    for value in ((statement.get("context") or {}).get("contextActivities") or {}).values():
        for activity in value if isinstance(value, list) else [value]:
            if isinstance(activity, dict) and activity.get("id") == activity_id:
                found.append(activity)
    if obj.get("objectType") == "SubStatement":
        found += _mentions(obj, activity_id)
    return found


@router.api_route("/xapi/activities", methods=["GET", "HEAD"])
async def get_activity(request: Request) -> Response:
    """The Activity object with every definition detail the tenant's statements gave it."""
    xapi_version(request)
    client = await authenticate(request, *READ_SCOPES)
    activity_id = request.query_params.get("activityId")
    if not activity_id:
        raise XAPIError(400, "the activityId parameter is required")
    consistent = await services(request).consistency.wait(client.tenant)
    rows = await asyncio.to_thread(services(request).clickhouse.run, "activity_statements",
                                   {"tenant": client.tenant, "activity": activity_id, "limit": 1000})
    activity: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    definition: dict[str, Any] = {}
    for (body,) in rows:
        for mention in _mentions(orjson.loads(body), activity_id):
            if isinstance(mention.get("definition"), dict):
                _merge(definition, mention["definition"])
    if definition:
        activity["definition"] = definition
    return _reply(request, activity, consistent)
