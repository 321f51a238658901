"""``multipart/mixed`` bodies of the Statements resource (xAPI attachments): parse requests, build responses.

Parsing follows RFC 2046 section 5.1.1: the boundary is matched byte for byte (it is case-sensitive;
browsers send ``----WebKitFormBoundaryAbC123``), a delimiter only counts at the start of a line, and
transport padding after a delimiter is allowed. Bare LF line ends are tolerated for lenient clients.
A hand-written parser rather than ``python-multipart``: the body is already in memory (the body-size
limit applies first), and ``bytes.find`` over it is as fast as any streaming parser and needs no
extra dependency; ``multipart/form-data`` semantics (field names, files) do not apply here anyway.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from lrs.service.errors import XAPIError

# RFC 2045 parameter: boundary=token or boundary="quoted string"; the name is case-insensitive, the value not.
_BOUNDARY = re.compile(r';\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;",]+))', re.IGNORECASE)
# RFC 2046 bchars: digits, letters, '()+_,-./:=? and space (not at the end); 1 to 70 characters.
_BCHARS = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")


@dataclass(frozen=True)
class Part:
    """One part: its headers (lower-cased names) and raw bytes."""

    headers: dict[str, str]
    body: bytes


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type, exactly as sent (400 if absent or invalid)."""
    match = _BOUNDARY.search(content_type)
    if not match:
        raise XAPIError(400, "multipart/mixed request without a boundary parameter")
    boundary = match.group(2) if match.group(1) is None else re.sub(r"\\(.)", r"\1", match.group(1))
    if not _BCHARS.match(boundary):
        raise XAPIError(400, "multipart boundary must be 1 to 70 characters of RFC 2046 bchars")
    return boundary


def _delimiter_at(body: bytes, dash: bytes, start: int) -> int:
    """Index of the next ``--boundary`` that starts a line at or after ``start`` and is followed by
    ``--``, padding or a line end (a longer boundary that merely shares the prefix does not count); -1 if none."""
    pos = start
    while True:
        if pos == 0 and body.startswith(dash):
            found = 0
        else:
            newline = body.find(b"\n" + dash, max(pos - 1, 0))
            if newline < 0:
                return -1
            found = newline + 1
        after = body[found + len(dash):found + len(dash) + 2]
        if after in (b"--", b"") or after[:1] in (b"\r", b"\n", b" ", b"\t"):
            return found
        pos = found + 1


def _part(raw: bytes) -> Part:
    if raw.startswith(b"\r\n") or raw.startswith(b"\n"):
        head, content = b"", raw[2:] if raw.startswith(b"\r\n") else raw[1:]
    else:
        head, sep, content = raw.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = raw.partition(b"\n\n")
        if not sep:
            raise XAPIError(400, "multipart part without a header/body separator")
    headers = {}
    for line in head.decode("latin-1").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return Part(headers, content)


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart body into parts (400 if it is not well formed). ``content_type`` as sent, not lower-cased."""
    dash = b"--" + boundary_of(content_type).encode("latin-1")
    pos = _delimiter_at(body, dash, 0)
    if pos < 0:
        raise XAPIError(400, "multipart body is malformed (no delimiter line with the declared boundary; "
                             "boundaries are case-sensitive)")
    parts = []
    while True:
        pos += len(dash)
        if body.startswith(b"--", pos):
            break  # close delimiter; anything after it is the epilogue
        line_end = body.find(b"\n", pos)
        if line_end < 0 or body[pos:line_end].strip(b" \t\r"):
            raise XAPIError(400, "multipart body is malformed (missing closing boundary)")
        start = line_end + 1
        nxt = _delimiter_at(body, dash, start)
        if nxt < 0:
            raise XAPIError(400, "multipart body is malformed (missing closing boundary)")
        # The line break before a delimiter belongs to the delimiter, not to the part's content.
        end = nxt - 1
        if end > start and body[end - 1:end] == b"\r":
            end -= 1
        parts.append(_part(body[start:max(end, start)]))
        pos = nxt
    if not parts:
        raise XAPIError(400, "multipart body is malformed (no parts)")
    return parts


def build_multipart(first_json: bytes, attachments: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/mixed body: the JSON part, then ``(sha2, content type, bytes)`` parts; returns (body, type).

    The boundary is a token (letters, digits, '-'), so the Content-Type carries it unquoted: some clients
    (TinCanJS) keep quotes as part of the boundary and then find no parts.
    """
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
    return b"".join(out), f"multipart/mixed; boundary={boundary}"
