"""``multipart/mixed`` bodies of the Statements resource (xAPI attachments): parse requests, build responses."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from lrs.errors import XAPIError

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass(frozen=True)
class Part:
    """One part: its headers (lower-cased names) and raw bytes."""

    headers: dict[str, str]
    body: bytes


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type (400 if absent)."""
    match = _BOUNDARY.search(content_type)
    if not match:
        raise XAPIError(400, "multipart/mixed request without a boundary parameter")
    return match.group(1)


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart body into parts (400 if it is not well formed)."""
    delimiter = b"--" + boundary_of(content_type).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].lstrip().startswith(b"--"):
        raise XAPIError(400, "multipart body is malformed (missing parts or closing boundary)")
    parts = []
    for chunk in chunks[1:-1]:
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.partition(b"\n\n")
        if not sep:
            raise XAPIError(400, "multipart part without a header/body separator")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        headers = {}
        for line in head.decode("latin-1").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers, content))
    return parts


def build_multipart(first_json: bytes, attachments: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/mixed body: the JSON part, then ``(sha2, content type, bytes)`` parts; returns (body, type)."""
    boundary = f"xapi-{secrets.token_hex(12)}"
    out = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), first_json, b"\r\n"]
    for sha2, content_type, content in attachments:
        out += [
            f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {sha2}\r\n\r\n".encode(),
            content,
            b"\r\n",
        ]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f'multipart/mixed; boundary="{boundary}"'
