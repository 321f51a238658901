"""Document write commands: the message on the documents topic and the writer's decision for it.

The LRS validates a request and produces a :class:`DocumentCommand`; the single worker owning the
document set's partition reads the stored versions, calls :func:`decide` (pure: no I/O, so the
concurrency rules are unit-tested) and writes the rows and the :class:`Outcome` it returns.

Value: compact JSON ``{"v": 1, "request_id", "tenant", "resource", "activity_id", "agent",
"registration", "doc_id", "op", "if_match", "if_none_match", "no_precondition", "content_type",
"body" (base64), "received_us"}``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from lrs.core.documents.keys import RESOURCES, DocumentSet, ETagCondition, etag_of
from lrs.core.documents.merge import MergeError, merge_documents
from lrs.core.kafka.envelope import PoisonMessage, load_versioned

COMMAND_VERSION = 1
OPS = ("put", "post", "delete")

# What a PUT without If-Match / If-None-Match does (xAPI Communication 3.1):
ALLOW = "allow"        # State in xAPI 1.0.3: "permits PUT ... without concurrency headers" -> overwrite
CONFLICT = "conflict"  # Profiles, and State in xAPI 2.0: 409 if the document exists, else create
REQUIRE = "require"    # Profiles, 1.0.x, profile_put_requires_precondition: 409 if it exists, else 400
NO_PRECONDITION_POLICIES = (ALLOW, CONFLICT, REQUIRE)


@dataclass(frozen=True)
class DocumentCommand:
    """One validated document write (or a multi-document DELETE when ``doc_id`` is None)."""

    request_id: str
    tenant: str
    resource: str
    activity_id: str
    agent: str
    registration: str | None
    doc_id: str | None
    op: str
    if_match: ETagCondition = None
    if_none_match: ETagCondition = None
    no_precondition: str = ALLOW
    content_type: str = ""
    body: bytes = b""
    received_us: int = 0

    @property
    def document_set(self) -> DocumentSet:
        """The set this command writes to (its Kafka key)."""
        return DocumentSet(self.tenant, self.resource, self.activity_id, self.agent)

    def encode(self) -> bytes:
        """The message value."""
        return orjson.dumps({
            "v": COMMAND_VERSION, "request_id": self.request_id, "tenant": self.tenant, "resource": self.resource,
            "activity_id": self.activity_id, "agent": self.agent, "registration": self.registration,
            "doc_id": self.doc_id, "op": self.op, "if_match": self.if_match, "if_none_match": self.if_none_match,
            "no_precondition": self.no_precondition, "content_type": self.content_type,
            "body": base64.b64encode(self.body).decode("ascii"), "received_us": self.received_us,
        })


def _condition(value: Any) -> ETagCondition:
    if value is None or value == "*":
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise PoisonMessage(f"bad precondition {value!r}")


def decode_command(value: bytes | None) -> DocumentCommand:
    """Parse a message value; raise PoisonMessage saying why it cannot be used."""
    doc = load_versioned(value, COMMAND_VERSION, "command")
    try:
        command = DocumentCommand(
            request_id=str(doc["request_id"]), tenant=str(doc["tenant"]), resource=str(doc["resource"]),
            activity_id=str(doc["activity_id"]), agent=str(doc["agent"]), registration=doc["registration"],
            doc_id=doc["doc_id"], op=str(doc["op"]), if_match=_condition(doc.get("if_match")),
            if_none_match=_condition(doc.get("if_none_match")),
            no_precondition=str(doc.get("no_precondition", ALLOW)), content_type=str(doc.get("content_type", "")),
            body=base64.b64decode(doc.get("body", ""), validate=True), received_us=int(doc.get("received_us", 0)),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise PoisonMessage(f"malformed command: {exc}") from exc
    if (command.resource not in RESOURCES or command.op not in OPS or not command.request_id or not command.tenant
            or command.no_precondition not in NO_PRECONDITION_POLICIES
            or (command.doc_id is None and command.op != "delete")):
        raise PoisonMessage("command lacks a valid resource, op, request id or tenant")
    return command


@dataclass(frozen=True)
class StoredDoc:
    """The latest stored version of one document (possibly a deletion)."""

    doc_id: str
    registration: str
    content_b64: str
    content_type: str
    etag: str
    updated_us: int
    deleted: int
    request_id: str
    version: int

    @classmethod
    def from_row(cls, row: tuple) -> StoredDoc:
        """From a ``documents_current`` / ``documents_set`` row."""
        doc_id, registration, content, content_type, etag, updated_us, deleted, request_id, version = row
        return cls(doc_id, registration, content, content_type, etag, int(updated_us), int(deleted), request_id,
                   int(version))

    @property
    def content(self) -> bytes:
        """The document's bytes."""
        return base64.b64decode(self.content_b64)


@dataclass(frozen=True)
class Outcome:
    """The HTTP answer to a command: 204 (with the new ETag), 400, 409 or 412 (with a message)."""

    status: int
    etag: str = ""
    message: str = ""

    def row(self, request_id: str, now_us: int) -> list[Any]:
        """The ``document_results`` row."""
        return [request_id, self.status, self.etag, self.message, now_us]


@dataclass
class Decision:
    """What the writer must do: write ``rows`` (``documents_insert``), then record ``outcome``."""

    outcome: Outcome
    rows: list[list[Any]] = field(default_factory=list)


def _row(command: DocumentCommand, doc_id: str, registration: str, content: bytes, content_type: str,
         deleted: int, previous: StoredDoc | None, now_us: int) -> list[Any]:
    # Strictly increasing per document even if clocks of successive writers disagree.
    version = max(now_us, previous.version + 1) if previous else now_us
    updated = max(now_us, previous.updated_us + 1) if previous else now_us
    etag = "" if deleted else etag_of(content)
    return [command.tenant, command.resource, command.activity_id, command.agent, registration, doc_id,
            base64.b64encode(content).decode("ascii"), content_type, etag, updated, deleted, command.request_id,
            version]


def _precondition_failure(command: DocumentCommand, current: StoredDoc | None) -> Outcome | None:
    if command.if_match is not None:
        if current is None:
            return Outcome(412, message="If-Match: the document does not exist")
        if command.if_match != "*" and current.etag not in command.if_match:
            return Outcome(412, message="If-Match: the document has changed (its ETag differs); "
                                        "GET it again and retry with the current ETag")
    if (command.if_none_match is not None and current is not None
            and (command.if_none_match == "*" or current.etag in command.if_none_match)):
        return Outcome(412, message="If-None-Match: the document already exists")
    if command.op == "put" and command.if_match is None and command.if_none_match is None:
        if current is not None and command.no_precondition in (CONFLICT, REQUIRE):
            return Outcome(409, message="the document already exists: GET it to check its current state, then "
                                        "PUT with If-Match set to its ETag (or If-None-Match: * to create only)")
        if current is None and command.no_precondition == REQUIRE:
            return Outcome(400, message="a PUT to this resource must carry If-Match or If-None-Match")
    return None


def decide(command: DocumentCommand, stored: list[StoredDoc], now_us: int) -> Decision:
    """The writer's decision for ``command`` given the latest stored versions of its target(s).

    ``stored`` holds the target document's latest version (at most one row) for a single-document
    command, or every document of the set (within the registration, if given) for a multi-document
    DELETE; deleted versions included, so redeliveries are recognised by ``request_id``.
    """
    applied = [doc for doc in stored if doc.request_id == command.request_id]
    if applied:
        # At-least-once redelivery of a command already applied: same answer, no new version.
        return Decision(Outcome(204, etag=applied[0].etag))

    if command.doc_id is None:
        live = [doc for doc in stored if not doc.deleted]
        rows = [_row(command, d.doc_id, d.registration, b"", "", 1, d, now_us) for d in live]
        return Decision(Outcome(204), rows)

    previous = stored[0] if stored else None
    current = previous if previous is not None and not previous.deleted else None
    failure = _precondition_failure(command, current)
    if failure is not None:
        return Decision(failure)
    registration = command.registration or ""
    if command.op == "delete":
        if current is None:
            return Decision(Outcome(204))
        return Decision(Outcome(204), [_row(command, command.doc_id, registration, b"", "", 1, previous, now_us)])

    content, content_type = command.body, command.content_type
    if command.op == "post" and current is not None:
        try:
            content = merge_documents(current.content, current.content_type, command.body, command.content_type)
        except MergeError as exc:
            return Decision(Outcome(400, message=str(exc)))
        content_type = current.content_type
    row = _row(command, command.doc_id, registration, content, content_type, 0, previous, now_us)
    return Decision(Outcome(204, etag=row[8]), [row])
