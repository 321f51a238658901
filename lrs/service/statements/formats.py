"""The ``format`` parameter of statement GETs: exact (as stored), ids, canonical."""

from __future__ import annotations

from typing import Any

IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
LANGUAGE_MAP_KEYS = ("display", "name", "description")


def _agent_ids(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return agent
    slim = {k: agent[k] for k in ("objectType", *IFI_KEYS) if k in agent}
    if agent.get("objectType") == "Group" and "member" in agent and not any(k in agent for k in IFI_KEYS):
        slim["member"] = [_agent_ids(m) for m in agent["member"]]
    return slim


def _activity_ids(activity: Any) -> Any:
    if not isinstance(activity, dict):
        return activity
    return {"id": activity["id"]} if "id" in activity else activity


def _object_ids(obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj.get("objectType", "Activity")
    if kind in ("Agent", "Group"):
        return _agent_ids(obj)
    if kind == "Activity":
        return _activity_ids(obj)
    if kind == "SubStatement":
        return ids_format(obj)
    return obj


def ids_format(statement: dict[str, Any]) -> dict[str, Any]:
    """Agents, groups and activities reduced to their identifiers; verbs to their id."""
    out = dict(statement)
    if "actor" in out:
        out["actor"] = _agent_ids(out["actor"])
    if "authority" in out:
        out["authority"] = _agent_ids(out["authority"])
    if isinstance(out.get("verb"), dict):
        out["verb"] = {"id": out["verb"].get("id")}
    if isinstance(out.get("object"), dict):
        out["object"] = _object_ids(out["object"])
    context = out.get("context")
    if isinstance(context, dict):
        context = dict(context)
        for prop in ("instructor", "team"):
            if prop in context:
                context[prop] = _agent_ids(context[prop])
        if isinstance(context.get("contextActivities"), dict):
            context["contextActivities"] = {
                k: [_activity_ids(a) for a in v] if isinstance(v, list) else _activity_ids(v)
                for k, v in context["contextActivities"].items()
            }
        out["context"] = context
    return out


def _pick_language(language_map: dict[str, str], accepted: list[str]) -> dict[str, str]:
    for wanted in accepted:
        exact = [tag for tag in language_map if tag.lower() == wanted]
        related = [tag for tag in language_map if tag.lower().split("-")[0] == wanted.split("-")[0]]
        for tag in exact + related:
            return {tag: language_map[tag]}
    first = next(iter(language_map), None)
    return {first: language_map[first]} if first is not None else {}


def _canonical(value: Any, accepted: list[str], key: str = "") -> Any:
    if isinstance(value, dict):
        if key in LANGUAGE_MAP_KEYS and all(isinstance(v, str) for v in value.values()):
            return _pick_language(value, accepted)
        if key == "extensions":
            return value
        return {k: _canonical(v, accepted, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v, accepted, key if key in ("choices", "scale", "source", "target", "steps") else "")
                for v in value]
    return value


def accepted_languages(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, best first."""
    weighted = []
    for part in (header or "").split(","):
        tag, _, q = part.strip().partition(";q=")
        if tag and tag != "*":
            try:
                weighted.append((float(q) if q else 1.0, tag.lower()))
            except ValueError:
                continue
    return [tag for _, tag in sorted(weighted, key=lambda w: -w[0])]


def _drop_identified_members(value: Any) -> Any:
    # An identified Group is canonically its identifier; its member list is not part of it.
    if isinstance(value, dict):
        out = {k: _drop_identified_members(v) for k, v in value.items()}
        if out.get("objectType") == "Group" and any(k in out for k in IFI_KEYS):
            out.pop("member", None)
        return out
    if isinstance(value, list):
        return [_drop_identified_members(v) for v in value]
    return value


def canonical_format(statement: dict[str, Any], accept_language: str | None) -> dict[str, Any]:
    """Language maps reduced to the one language that best fits Accept-Language; identified groups
    without their member lists."""
    return _drop_identified_members(_canonical(statement, accepted_languages(accept_language)))


def apply_format(statement: dict[str, Any], fmt: str, accept_language: str | None = None) -> dict[str, Any]:
    """The statement as the client asked for it."""
    if fmt == "ids":
        return ids_format(statement)
    if fmt == "canonical":
        return canonical_format(statement, accept_language)
    return statement
