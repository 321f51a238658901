"""Signed ``more`` tokens: the whole query of the next page, HMAC-signed so a client cannot alter it.

A token is ``v1.<payload>.<mac>``: the payload is the query (``StatementQuery`` fields plus the time the token
was issued) as compact JSON in URL-safe base64, the MAC an HMAC-SHA256 over ``v1.<payload>`` truncated to
128 bits. Any LRS process holding the keys can serve the next page (no server-side cursor state).

Keys come from ``LRS_MORE_TOKEN_KEYS`` (comma-separated; the first signs, every one verifies), so a key is
rotated by putting the new key first and keeping the old one for at least ``LRS_MORE_TOKEN_TTL_S`` (a
token's lifetime). Without the setting the processes of one host share a random key kept in
``<state_dir>/run/more-token.key``.

Validation is strict even for a correctly signed token (a leaked key, or a token of an older release):
exactly the expected fields with their exact types and ranges, the limit within the cap, the caller's
tenant. Every failure is a 400 with an xAPI error, never a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import orjson

from lrs.core.config import Settings
from lrs.service.errors import XAPIError
from lrs.service.statements.query import FORMATS, MAX_LIMIT, StatementQuery

VERSION = "v1"
MAC_BYTES = 16
MAX_TOKEN_CHARS = 16_384  # far above any token we issue (IRIs are bounded by the request line anyway)
MAX_TEXT_CHARS = 4096  # longest IRI, agent IFI or key a token may carry
_MAX_US = 2**62  # microsecond bounds fit ClickHouse's Int64 with room to spare

_FLAGS = {"related_agents", "related_activities", "has_since", "has_until", "has_after"}
_TIMES = {"since_us", "until_us", "snapshot_us", "after_us"}
_TEXTS = {"tenant", "agent", "verb", "activity", "registration", "client_key", "after_id"}
_BOOLS = {"ascending", "attachments"}
_FIELDS = {f.name for f in fields(StatementQuery)}  # tests check that the sets above cover every field


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    # Strict: only the URL-safe alphabet, and canonical (re-encoding gives the same text), so no two
    # spellings of one token exist.
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64")
    return data


class MoreTokens:
    """Issues and verifies ``more`` tokens with the configured keys."""

    def __init__(self, keys: list[bytes], ttl_s: float) -> None:
        if not keys or any(not key for key in keys):
            raise ValueError("more tokens need at least one non-empty key")
        self.keys = keys
        self.ttl_s = ttl_s

    @classmethod
    def from_settings(cls, settings: Settings) -> MoreTokens:
        """The keys of ``LRS_MORE_TOKEN_KEYS``, else this host's shared key file (created on first use)."""
        configured = [k.strip().encode() for k in settings.more_token_keys.split(",") if k.strip()]
        return cls(configured or [_host_key(Path(settings.state_dir) / "run" / "more-token.key")],
                   settings.more_token_ttl_s)

    def _mac(self, key: bytes, signed: str) -> bytes:
        return hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()[:MAC_BYTES]

    def issue(self, query: StatementQuery, *, now: float | None = None) -> str:
        """The token of ``query`` (which already carries the position after the last row of its page)."""
        state = asdict(query) | {"issued_s": int(time.time() if now is None else now)}
        signed = f"{VERSION}.{_b64(orjson.dumps(state))}"
        return f"{signed}.{_b64(self._mac(self.keys[0], signed))}"

    def open(self, token: str, *, tenant: str, now: float | None = None) -> StatementQuery:
        """The query a token continues; 400 if it is malformed, altered, expired or another tenant's."""
        state = self._verified(token)
        query = _checked(state, tenant)
        issued = state["issued_s"]
        current = time.time() if now is None else now
        if issued > current + 300 or current - issued > self.ttl_s:
            raise _invalid("it has expired; start the query again")
        return query

    def _verified(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise _invalid()
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise _invalid()
        signed = f"{parts[0]}.{parts[1]}"
        try:
            mac = _unb64(parts[2])
            payload = _unb64(parts[1])
        except (ValueError, binascii.Error):
            raise _invalid() from None
        if len(mac) != MAC_BYTES or not any(hmac.compare_digest(mac, self._mac(key, signed)) for key in self.keys):
            raise _invalid()
        try:
            state = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise _invalid() from None
        if not isinstance(state, dict):
            raise _invalid()
        return state


def _invalid(why: str = "it was altered or is not a token of this LRS") -> XAPIError:
    return XAPIError(400, f"the more token is not valid: {why}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _checked(state: dict[str, Any], tenant: str) -> StatementQuery:
    """The query of a verified payload, every field checked for type and range."""
    if set(state) != _FIELDS | {"issued_s"}:
        raise _invalid()
    ok = _is_int(state["issued_s"]) and 0 <= state["issued_s"] < 2**40
    ok = ok and all(_is_int(state[n]) and state[n] in (0, 1) for n in _FLAGS)
    ok = ok and all(_is_int(state[n]) and -_MAX_US <= state[n] <= _MAX_US for n in _TIMES)
    ok = ok and all(isinstance(state[n], str) and len(state[n]) <= MAX_TEXT_CHARS for n in _TEXTS)
    ok = ok and all(isinstance(state[n], bool) for n in _BOOLS)
    ok = ok and _is_int(state["limit"]) and 1 <= state["limit"] <= MAX_LIMIT
    ok = ok and state["format"] in FORMATS
    # A token continues a page: it always names the row it continues after.
    ok = ok and state["has_after"] == 1 and state["after_id"] != ""
    if not ok:
        raise _invalid()
    if state["tenant"] != tenant:
        raise _invalid("it belongs to another tenant")
    return StatementQuery(**{name: state[name] for name in _FIELDS})


def _host_key(path: Path) -> bytes:
    """A random key shared by the LRS processes of this host: the first one to start creates it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is writing it right now
            key = path.read_bytes().strip()
            if key:
                return key
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; remove it or set LRS_MORE_TOKEN_KEYS") from None
    key = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as file:
        file.write(key)
    return key
