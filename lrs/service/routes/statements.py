"""The Statements resource: POST/PUT store through Kafka, GET reads from ClickHouse."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from kafka.errors import MessageSizeTooLargeError

from lrs.core.kafka.envelope import message_key
from lrs.core.store.clickhouse import STORE_ERRORS
from lrs.core.util.jsondepth import MAX_DEPTH, too_deep
from lrs.core.util.timeparse import http_date, now_timestamp
from lrs.core.xapi import XAPIValidationError, actor_ifi, normalize_statement, validate_statements
from lrs.core.xapi.jsontext import DuplicateKey, refuse_duplicate_keys
from lrs.service import metrics
from lrs.service.auth.credentials import Client
from lrs.service.errors import XAPIError
from lrs.service.publisher import BrokerUnavailable
from lrs.service.routes.deps import Services, authenticate, read_response, services, xapi_version
from lrs.service.statements.attachments import match_parts, referenced_hashes
from lrs.service.statements.formats import apply_format
from lrs.service.statements.multipart import Part, build_multipart, parse_multipart
from lrs.service.statements.page import read_page
from lrs.service.statements.prepare import comparable, prepare
from lrs.service.statements.query import FORMATS, SINGLE_PARAMS, parse_query

router = APIRouter()
JSON = "application/json"


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type=JSON, headers=headers)


async def _read_body(request: Request) -> tuple[Any, list[Part] | None]:
    """The statement JSON of a request and, for multipart/mixed, its attachment parts."""
    raw_type = request.headers.get("content-type", "application/json")
    content_type = raw_type.lower()
    body = await request.body()
    parts = None
    if content_type.startswith("multipart/mixed"):
        # The boundary is case-sensitive (RFC 2046): parse with the header as sent.
        all_parts = parse_multipart(body, raw_type)
        first = all_parts[0]
        if not first.headers.get("content-type", "").lower().startswith("application/json"):
            raise XAPIError(400, "the first part of a multipart/mixed request must be application/json")
        body, parts = first.body, all_parts[1:]
    elif not content_type.startswith("application/json"):
        raise XAPIError(400, f"Content-Type {content_type!r} is not accepted here; use application/json "
                             "or multipart/mixed (for attachments)")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise XAPIError(400, f"request body is not valid JSON: {exc}") from None
    if too_deep(body):
        raise XAPIError(400, f"request body nests JSON deeper than {MAX_DEPTH} levels")
    try:
        refuse_duplicate_keys(body, doc)
    except DuplicateKey as exc:
        raise XAPIError(400, str(exc)) from None
    return doc, parts


async def _store_blobs(svc: Services, tenant: str, blobs: list[tuple[str, str, bytes]]) -> None:
    """Write attachment bytes before the statements that reference them are published."""
    if not blobs:
        return
    now = time.time_ns() // 1000
    rows = [[tenant, sha2, ctype, base64.b64encode(content).decode("ascii"), now] for sha2, ctype, content in blobs]
    await asyncio.to_thread(svc.clickhouse.insert, "attachments_insert", rows)


def _check_ids(statements: list[dict[str, Any]], put_id: str | None) -> None:
    seen: set[str] = set()
    for index, statement in enumerate(statements):
        sid = statement.get("id")
        if sid is None:
            continue
        sid = str(sid).lower()
        if sid in seen:
            raise XAPIError(400, f"statements[{index}].id: duplicate id {sid} in one request")
        seen.add(sid)
    given = statements[0].get("id")
    if put_id is not None and given is not None and str(given).lower() != put_id:
        raise XAPIError(400, "statement id does not match the statementId parameter")


async def _store(svc: Services, client: Client, raw: list[dict[str, Any]], version: str) -> list[str]:
    """Validate what needs the stored data, publish, and return the ids of the statements."""
    stored = now_timestamp()
    prepared = [prepare(s, client=client, stored=stored, version="2.0.0" if version == "2.0.0" else "1.0.0")
                for s in raw]
    ids = [s["id"] for s in prepared]
    given = [str(s["id"]).lower() for s in raw if s.get("id")]
    targets = {s["object"]["id"].lower(): i for i, s in enumerate(prepared)
               if s.get("verb", {}).get("id") == "http://adlnet.gov/expapi/verbs/voided"}

    existing: dict[str, tuple[Any, ...]] = {}
    lookup = sorted(set(given) | set(targets))
    checked = True  # no id given: ours are new, nothing stored before can hold them
    if lookup:
        # Our own recent writes must reach ClickHouse before we judge conflicts against them.
        try:
            if svc.recent.any_of(client.tenant, lookup):
                await svc.consistency.wait(client.tenant)
            existing = await svc.lookup.find(client.tenant, lookup)
        except STORE_ERRORS as exc:
            # Ingest must survive a ClickHouse outage (Kafka holds the statements until it is back);
            # conflicts with statements stored earlier cannot be seen meanwhile.
            metrics.CHECKS_SKIPPED.labels(reason=type(exc).__name__).inc()
            checked = False  # the sink checks them against the whole history

    voiding_ids = {prepared[i]["id"] for i in targets.values()}
    for target, index in targets.items():
        found = existing.get(target)
        if (found and found[2]) or target in voiding_ids - {prepared[index]["id"]}:
            raise XAPIError(400, f"statements[{index}]: a voiding statement cannot target another voiding statement")

    fresh = []
    for index, (original, statement) in enumerate(zip(raw, prepared, strict=True)):
        found = existing.get(statement["id"]) if original.get("id") else None
        if found is None:
            fresh.append(statement)
            continue
        keep_ts = "timestamp" in original
        if comparable(orjson.loads(found[0]), keep_timestamp=keep_ts) != comparable(statement, keep_timestamp=keep_ts):
            raise XAPIError(409, f"statements[{index}]: a different statement with id {statement['id']} "
                                 "is already stored")
        # Same id and same content: nothing to do (statements are immutable).

    keyed = [(message_key(client.tenant, actor_ifi(s["actor"])), s) for s in fresh]
    if keyed:
        try:
            await svc.publisher.publish(client.tenant, client.key, keyed, checked)
        except BrokerUnavailable as exc:
            if isinstance(exc.__cause__, MessageSizeTooLargeError):  # permanent: retrying cannot help
                metrics.STATEMENTS_REJECTED.labels(reason="too large").inc(len(keyed))
                raise XAPIError(413, "statements not stored: larger than the message broker accepts") from None
            metrics.STATEMENTS_REJECTED.labels(reason="broker unavailable").inc(len(keyed))
            raise XAPIError(503, f"statements not stored: {exc}; retry later", headers={"Retry-After": "1"}) from None
        svc.recent.add(client.tenant, (s["id"] for s in fresh))
        metrics.STATEMENTS_ACCEPTED.labels(tenant=client.tenant).inc(len(keyed))
    return ids


def _validated(data: Any, version: str) -> list[dict[str, Any]]:
    try:
        validate_statements(data, version=version)
    except XAPIValidationError as exc:
        metrics.STATEMENTS_REJECTED.labels(reason="invalid").inc()
        raise XAPIError(400, str(exc)) from None
    # Stored form: contextActivities as arrays, a 2.0 null timestamp dropped (so it defaults to stored).
    return [normalize_statement(s) for s in (data if isinstance(data, list) else [data])]


@router.post("/xapi/statements")
async def post_statements(request: Request) -> Response:
    """Store one statement or an array; answer the ids once the broker acknowledged them."""
    version = xapi_version(request)
    svc = services(request)
    client = await authenticate(request, "statements/write")
    data, parts = await _read_body(request)
    statements = _validated(data, version)
    _check_ids(statements, None)
    await _store_blobs(svc, client.tenant, match_parts(statements, parts))
    ids = await _store(svc, client, statements, version)
    return _json(ids, headers={"X-Experience-API-Consistent-Through": svc.consistency.header_value(client.tenant)})


@router.put("/xapi/statements")
async def put_statement(request: Request, statementId: str | None = None) -> Response:  # noqa: N803
    """Store one statement under the id given as a parameter; 204 on success."""
    version = xapi_version(request)
    svc = services(request)
    client = await authenticate(request, "statements/write")
    if not statementId:
        raise XAPIError(400, "PUT /statements requires the statementId parameter")
    try:
        put_id = str(uuid.UUID(statementId)).lower()
    except ValueError:
        raise XAPIError(400, f"statementId {statementId!r} is not a UUID") from None
    data, parts = await _read_body(request)
    if not isinstance(data, dict):
        raise XAPIError(400, "PUT /statements takes a single statement object")
    statements = _validated(data, version)
    _check_ids(statements, put_id)
    await _store_blobs(svc, client.tenant, match_parts(statements, parts))
    await _store(svc, client, [{**statements[0], "id": put_id}], version)
    return Response(status_code=204,
                    headers={"X-Experience-API-Consistent-Through": svc.consistency.header_value(client.tenant)})


@router.api_route("/xapi/statements", methods=["GET", "HEAD"])
async def get_statements(request: Request) -> Response:
    """One statement by ``statementId`` / ``voidedStatementId``, or a filtered, paged query."""
    version = xapi_version(request)
    svc = services(request)
    client = await authenticate(request, "statements/read", "all/read", "statements/read/mine")
    # Clients limited to their own statements see only what their key stored.
    mine = "" if client.allows("statements/read", "all/read") else client.key
    params = dict(request.query_params)
    consistent = await svc.consistency.wait(client.tenant)
    headers = {"X-Experience-API-Consistent-Through": consistent}
    if "statementId" in params or "voidedStatementId" in params:
        answer = _get_one(svc, client.tenant, mine, params, request)
    else:
        answer = _get_many(svc, client.tenant, mine, params, request, version)
    return await read_response(request, headers, answer)


async def _get_one(svc: Services, tenant: str, mine: str, params: dict[str, str], request: Request) -> Response:
    unknown = set(params) - SINGLE_PARAMS
    if unknown:
        raise XAPIError(400, f"with statementId/voidedStatementId only format and attachments may be given, "
                             f"not {', '.join(sorted(unknown))}")
    if "statementId" in params and "voidedStatementId" in params:
        raise XAPIError(400, "use statementId or voidedStatementId, not both")
    voided_wanted = "voidedStatementId" in params
    wanted = params.get("voidedStatementId") if voided_wanted else params.get("statementId")
    try:
        wanted = str(uuid.UUID(wanted or "")).lower()
    except ValueError:
        raise XAPIError(400, f"{'voidedStatementId' if voided_wanted else 'statementId'} must be a UUID") from None
    fmt = params.get("format", "exact")
    if fmt not in FORMATS:
        raise XAPIError(400, f"parameter format must be one of {', '.join(FORMATS)}")
    rows = await asyncio.to_thread(svc.clickhouse.run, "statement_by_id", {"tenant": tenant, "statement_id": wanted})
    if not rows or bool(rows[0][1]) != voided_wanted or (mine and rows[0][3] != mine):
        raise XAPIError(404, f"no {'voided ' if voided_wanted else ''}statement {wanted}")
    body, _, stored_us, _ = rows[0]
    statement = apply_format(orjson.loads(body), fmt, request.headers.get("accept-language"))
    with_attachments = _bool_param("attachments", params.get("attachments", "false"))
    return await _respond(svc, tenant, statement, [statement], with_attachments,
                          {"Last-Modified": http_date(stored_us)})


async def _get_many(svc: Services, tenant: str, mine: str, params: dict[str, str], request: Request,
                    version: str) -> Response:
    if "more" in params:
        if len(params) > 1:
            raise XAPIError(400, "the more parameter cannot be combined with others")
        query = svc.tokens.open(params["more"], tenant=tenant)
    else:
        query = parse_query(params, tenant=tenant, client_key=mine, version=version)
    if mine:
        query.client_key = mine
    rows = await asyncio.to_thread(read_page, svc.clickhouse, query)
    page, more = rows[: query.limit], ""
    if len(rows) > query.limit:
        last = page[-1]
        more = f"/xapi/statements?more={svc.tokens.issue(query.after(last[2], last[0]))}"
    accept = request.headers.get("accept-language")
    statements = [apply_format(orjson.loads(r[1]), query.format, accept) for r in page]
    headers = {"Last-Modified": http_date(max(r[2] for r in page))} if page else {}
    return await _respond(svc, tenant, {"statements": statements, "more": more}, statements, query.attachments,
                          headers)


def _bool_param(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise XAPIError(400, f"parameter {name} must be true or false")
    return value.lower() == "true"


async def _respond(svc: Services, tenant: str, content: Any, statements: list[dict[str, Any]],
                   with_attachments: bool, headers: dict[str, str]) -> Response:
    """JSON, or multipart/mixed with the attachment bytes when ``attachments=true``."""
    if not with_attachments:
        return _json(content, headers=headers)
    hashes = referenced_hashes(statements)
    blobs: list[tuple[str, str, bytes]] = []
    if hashes:
        rows = await asyncio.to_thread(svc.clickhouse.run, "attachments_by_hash", {"tenant": tenant, "hashes": hashes})
        found = {sha2: (ctype, base64.b64decode(b64)) for sha2, ctype, b64 in rows}
        blobs = [(sha2, *found[sha2]) for sha2 in hashes if sha2 in found]
    body, content_type = build_multipart(orjson.dumps(content), blobs)
    return Response(body, media_type=content_type, headers=headers)
