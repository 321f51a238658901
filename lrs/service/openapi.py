"""The OpenAPI contract of the xAPI resources, declared beside the handlers instead of through them.

The handlers read the raw request (parsing with pydantic per parameter would slow the hot path and could
not give xAPI's error codes), so FastAPI alone sees no parameters. This module describes each operation's
parameters, bodies and responses once, when ``/openapi.json`` is first asked for: no cost per request.
"""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

JSON = "application/json"
ERROR = {"$ref": "#/components/schemas/XAPIError"}


def _param(name: str, description: str, *, required: bool = False, where: str = "query",
           schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema or {"type": "string"}}


VERSION = _param("X-Experience-API-Version", "xAPI version spoken (1.0.x or 2.0.x).", required=True,
                 where="header", schema={"type": "string", "pattern": r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$",
                                         "example": "2.0.0"})
IF_MATCH = _param("If-Match", "ETag (quoted) the document must still have, or *.", where="header")
IF_NONE_MATCH = _param("If-None-Match", "* to create only if the document does not exist.", where="header")
AGENT = _param("agent", "Agent as JSON, e.g. {\"mbox\":\"mailto:a@example.com\"}.", required=True,
               schema={"type": "string", "example": '{"objectType":"Agent","mbox":"mailto:learner@example.com"}'})
ACTIVITY_ID = _param("activityId", "Activity IRI.", required=True,
                     schema={"type": "string", "example": "https://example.com/activities/a1"})
REGISTRATION = _param("registration", "Registration UUID.", schema={"type": "string", "format": "uuid"})
SINCE = _param("since", "Only ids of documents stored after this timestamp (ISO 8601).",
               schema={"type": "string", "format": "date-time"})

STATEMENT_QUERY = [
    _param("statementId", "One statement by id.", schema={"type": "string", "format": "uuid"}),
    _param("voidedStatementId", "One voided statement by id.", schema={"type": "string", "format": "uuid"}),
    _param("agent", "Agent or identified Group as JSON: statements about it."),
    _param("verb", "Verb IRI."),
    _param("activity", "Activity IRI."),
    _param("registration", "Registration UUID.", schema={"type": "string", "format": "uuid"}),
    _param("related_activities", "Match the activity anywhere in the statement.", schema={"type": "boolean"}),
    _param("related_agents", "Match the agent anywhere in the statement.", schema={"type": "boolean"}),
    _param("since", "Stored after (ISO 8601).", schema={"type": "string", "format": "date-time"}),
    _param("until", "Stored at or before (ISO 8601).", schema={"type": "string", "format": "date-time"}),
    _param("limit", "Page size; 0 = the server's maximum.", schema={"type": "integer", "minimum": 0}),
    _param("format", "ids, exact or canonical.", schema={"type": "string", "enum": ["ids", "exact", "canonical"]}),
    _param("attachments", "Answer multipart/mixed with the attachments' bytes.", schema={"type": "boolean"}),
    _param("ascending", "Oldest first.", schema={"type": "boolean"}),
    _param("more", "Opaque paging token from a previous answer's more link."),
]


def _responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    messages = {400: "Bad request (xAPI error body names the problem)", 401: "Missing or wrong credentials",
                403: "Credentials lack the scope, or the Origin is not allowed for them",
                404: "Not found", 409: "Conflict: the document exists and no precondition was given",
                412: "Precondition failed (If-Match / If-None-Match)", 413: "Body too large",
                503: "Broker or store unavailable; retry (Retry-After)"}
    out = dict(ok)
    for code in (400, 401, 403, *codes, 503):
        out[str(code)] = {"description": messages[code], "content": {JSON: {"schema": ERROR}}}
    return out


def _json_body(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"required": True, "description": description, "content": {
        JSON: {"schema": schema or {"type": "object"}},
        "multipart/mixed": {"schema": {"type": "string", "format": "binary"},
                            "description": "The statement(s) as the first part, then one part per attachment."}}}


def _document_ops(id_param: str, has_activity: bool, has_agent: bool, state: bool) -> dict[str, Any]:
    base = ([ACTIVITY_ID] if has_activity else []) + ([AGENT] if has_agent else [])
    if state:
        base.append(REGISTRATION)
    doc_id = _param(id_param, "Document id.")
    required_id = {**doc_id, "required": True}
    body = {"required": True, "content": {"application/json": {"schema": {"type": "object"}},
                                          "application/octet-stream": {"schema": {"type": "string",
                                                                                  "format": "binary"}}}}
    etag = {"ETag": {"schema": {"type": "string"}, "description": "The new document's ETag."}}
    return {
        "get": {"parameters": [VERSION, *base, doc_id, SINCE], "responses": _responses({
            "200": {"description": f"The document (with {id_param}), or a JSON array of ids (without).",
                    "headers": {"ETag": {"schema": {"type": "string"}},
                                "Last-Modified": {"schema": {"type": "string"}}},
                    "content": {JSON: {"schema": {}}, "application/octet-stream": {"schema": {}}}}}, 404)},
        "put": {"parameters": [VERSION, *base, required_id, IF_MATCH, IF_NONE_MATCH], "requestBody": body,
                "responses": _responses({"204": {"description": "Stored", "headers": etag}}, 409, 412, 413)},
        "post": {"parameters": [VERSION, *base, required_id, IF_MATCH, IF_NONE_MATCH], "requestBody": body,
                 "responses": _responses({"204": {"description": "Merged (JSON objects) or stored",
                                                  "headers": etag}}, 412, 413)},
        "delete": {"parameters": [VERSION, *base, doc_id if state else required_id, IF_MATCH],
                   "responses": _responses({"204": {"description": "Deleted (or was absent)"}}, 412)},
    }


OPERATIONS: dict[str, dict[str, Any]] = {
    "/xapi/about": {"get": {"security": [], "parameters": [], "responses": {"200": {
        "description": "Versions this LRS speaks", "content": {JSON: {"schema": {"type": "object", "properties": {
            "version": {"type": "array", "items": {"type": "string"}}, "extensions": {"type": "object"}}}}}}}}},
    "/xapi/statements": {
        "get": {"parameters": [VERSION, *STATEMENT_QUERY], "responses": _responses({"200": {
            "description": "One statement, or a StatementResult {statements, more}; multipart/mixed with "
                           "attachments=true.",
            "headers": {"X-Experience-API-Consistent-Through": {"schema": {"type": "string"}},
                        "Last-Modified": {"schema": {"type": "string"}}},
            "content": {JSON: {"schema": {"type": "object"}},
                        "multipart/mixed": {"schema": {"type": "string", "format": "binary"}}}}}, 404)},
        "post": {"parameters": [VERSION], "requestBody": _json_body(
            "A statement or an array of statements.",
            {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}),
            "responses": _responses({"200": {"description": "The statements' ids, in order", "content": {
                JSON: {"schema": {"type": "array", "items": {"type": "string", "format": "uuid"}}}}}}, 409, 413)},
        "put": {"parameters": [VERSION, _param("statementId", "Id to store the statement under.", required=True,
                                               schema={"type": "string", "format": "uuid"})],
                "requestBody": _json_body("One statement."),
                "responses": _responses({"204": {"description": "Stored"}}, 409, 413)},
    },
    "/xapi/agents": {"get": {"parameters": [VERSION, AGENT], "responses": _responses({"200": {
        "description": "The Person object", "content": {JSON: {"schema": {"type": "object"}}}}})}},
    "/xapi/activities": {"get": {"parameters": [VERSION, ACTIVITY_ID], "responses": _responses({"200": {
        "description": "The Activity object", "content": {JSON: {"schema": {"type": "object"}}}}})}},
    "/xapi/activities/state": _document_ops("stateId", True, True, state=True),
    "/xapi/activities/profile": _document_ops("profileId", True, False, state=False),
    "/xapi/agents/profile": _document_ops("profileId", False, True, state=False),
}


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that adds the declarations above (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        with warnings.catch_warnings():
            # GET and HEAD share a route (so an operation id); unique ids are assigned below.
            warnings.simplefilter("ignore", UserWarning)
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description="xAPI 1.0.3 and 2.0 Learning Record Store. Every xAPI resource takes "
                                             "HTTP Basic credentials and the X-Experience-API-Version header.")
        for path, methods in schema["paths"].items():
            for method, operation in methods.items():
                operation["operationId"] = f"{method}{path.replace('/', '_')}"
        for path, methods in OPERATIONS.items():
            for method, declared in methods.items():
                operation = schema["paths"].get(path, {}).get(method)
                if operation is not None:
                    operation.update(declared)
                    head = schema["paths"][path].get("head")
                    if method == "get" and head is not None:
                        # A HEAD answer is the GET answer's status and headers, without the body.
                        head.update({"parameters": declared["parameters"], "responses": {
                            code: {"description": answer["description"]}
                            for code, answer in declared["responses"].items()}})
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["XAPIError"] = {"type": "object", "properties": {"error": {
            "type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}}}}
        components["securitySchemes"] = {"basic": {"type": "http", "scheme": "basic"}}
        schema["security"] = [{"basic": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
