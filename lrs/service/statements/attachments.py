"""Attachments: match multipart parts to statements, check SHA-2 hashes and JWS signatures.

Attachment bytes never travel in Kafka messages: the LRS writes them to the ClickHouse ``attachments``
table (keyed by tenant and SHA-2, so re-sends are free) before it publishes the statements that reference
them; a crash in between leaves only an unreferenced blob, never a statement without its attachment.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson

from lrs.service.errors import XAPIError
from lrs.service.statements.multipart import Part

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"
SIGNATURE_ALGORITHMS = ("RS256", "RS384", "RS512")
_SHA2 = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def check_signature(statement: dict[str, Any], jws: bytes, index: int) -> None:
    """A signature attachment must be a compact JWS with an RS256/384/512 header over this statement."""
    where = f"statements[{index}] signature"
    try:
        header_b64, payload_b64, signature_b64 = jws.decode("ascii").strip().split(".")
        header = orjson.loads(_b64url(header_b64))
        payload = orjson.loads(_b64url(payload_b64))
        _b64url(signature_b64)
    except (ValueError, UnicodeDecodeError, binascii.Error, orjson.JSONDecodeError):
        raise XAPIError(400, f"{where}: not a JWS compact serialization with a JSON payload") from None
    if not isinstance(header, dict) or header.get("alg") not in SIGNATURE_ALGORITHMS:
        raise XAPIError(400, f"{where}: algorithm must be one of {', '.join(SIGNATURE_ALGORITHMS)}")
    if not isinstance(payload, dict):
        raise XAPIError(400, f"{where}: payload is not a statement")
    for prop in ("actor", "verb", "object"):
        if payload.get(prop) != statement.get(prop):
            raise XAPIError(400, f"{where}: payload {prop} differs from the statement's")


def match_parts(statements: list[dict[str, Any]], parts: list[Part] | None) -> list[tuple[str, str, bytes]]:
    """Check every attachment without fileUrl has a part and every part an attachment; verify hashes.

    Returns the blobs to store as ``(sha2, content type, bytes)``.
    """
    by_hash: dict[str, Part] = {}
    for number, part in enumerate(parts or [], start=1):
        sha2 = part.headers.get("x-experience-api-hash", "").lower()
        if not sha2:
            raise XAPIError(400, f"attachment part {number} lacks the X-Experience-API-Hash header")
        encoding = part.headers.get("content-transfer-encoding", "binary").lower()
        if encoding != "binary":
            raise XAPIError(400, f"attachment part {number}: Content-Transfer-Encoding must be binary")
        digest = _SHA2.get(len(sha2))
        if digest is None or digest(part.body).hexdigest() != sha2:
            raise XAPIError(400, f"attachment part {number}: content does not match its SHA-2 hash {sha2}")
        by_hash[sha2] = part

    used: set[str] = set()
    for index, statement in enumerate(statements):
        for position, attachment in enumerate(statement.get("attachments") or []):
            sha2 = str(attachment.get("sha2", "")).lower()
            where = f"statements[{index}].attachments[{position}]"
            if attachment.get("usageType") == SIGNATURE:
                if attachment.get("contentType") != "application/octet-stream":
                    raise XAPIError(400, f"{where}: a signature must have contentType application/octet-stream")
                if sha2 not in by_hash:
                    raise XAPIError(400, f"{where}: the signature is not attached")
                check_signature(statement, by_hash[sha2].body, index)
            if sha2 in by_hash:
                used.add(sha2)
            elif "fileUrl" not in attachment:
                raise XAPIError(400, f"{where}: no fileUrl and no multipart part with hash {sha2}")
    extra = set(by_hash) - used
    if extra:
        raise XAPIError(400, f"multipart part(s) with hash {', '.join(sorted(extra))} match no attachment")
    return [(sha2, by_hash[sha2].headers.get("content-type", "application/octet-stream"), by_hash[sha2].body)
            for sha2 in sorted(used)]


def referenced_hashes(statements: list[dict[str, Any]]) -> list[str]:
    """SHA-2 hashes of the attachments of these statements (for GET with attachments=true)."""
    hashes = []
    for statement in statements:
        for attachment in statement.get("attachments") or []:
            sha2 = str(attachment.get("sha2", "")).lower()
            if sha2 and sha2 not in hashes:
                hashes.append(sha2)
    return hashes
