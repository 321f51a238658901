"""Basic-auth clients: each key belongs to one tenant and carries scopes; secrets stored as argon2 hashes.

Credentials live in ClickHouse so every LRS process sees a new, rotated or revoked key within
``credentials_cache_s`` seconds, without a restart.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lrs.core.config import Settings
from lrs.core.store.clickhouse import ClickHouse

SCOPES = frozenset({
    "statements/write", "statements/read", "statements/read/mine", "state", "define", "profile",
    "all/read", "all",
})
DEFAULT_SCOPES = ("all",)
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class Client:
    """An authenticated client: who it is and what it may do."""

    key: str
    tenant: str
    name: str
    scopes: frozenset[str]

    def allows(self, *needed: str) -> bool:
        """True if the client holds ``all`` or any of the ``needed`` scopes."""
        return "all" in self.scopes or any(scope in self.scopes for scope in needed)


class CredentialError(ValueError):
    """Invalid tenant, scope or unknown key in a credentials command."""


class UnknownCredential(CredentialError):
    """No credential has the key named in a command (the CLI exits with its 'not found' code)."""


class CredentialStore:
    """Create, rotate, revoke and verify credentials."""

    def __init__(self, settings: Settings, clickhouse: ClickHouse,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clickhouse = clickhouse
        self.clock = clock  # of the row cache (tests advance a fake one)
        self._rows: dict[str, tuple[float, tuple | None]] = {}  # key -> (valid until, stored row)
        self._verified: dict[bytes, str] = {}  # sha256(key, secret) -> the stored hash it was verified against
        self._flights: dict[bytes, threading.Lock] = {}
        self._lock = threading.Lock()

    def _write(self, key: str, tenant: str, name: str, secret_hash: str, scopes: list[str], revoked: bool) -> None:
        row = [key, tenant, name, secret_hash, scopes, int(revoked), time.time_ns() // 1000]
        self.clickhouse.insert("credentials_insert", [row])

    def create(self, tenant: str, name: str = "", scopes: tuple[str, ...] = DEFAULT_SCOPES) -> tuple[str, str]:
        """Create a key/secret pair for ``tenant``; the secret is shown once and stored hashed."""
        if not tenant or not tenant.replace("-", "").replace("_", "").isalnum():
            raise CredentialError("tenant must be letters, digits, '-' or '_'")
        unknown = set(scopes) - SCOPES
        if unknown:
            raise CredentialError(f"unknown scopes: {', '.join(sorted(unknown))}; known: {', '.join(sorted(SCOPES))}")
        key, secret = secrets.token_hex(10), secrets.token_urlsafe(24)
        self._write(key, tenant, name or key, _HASHER.hash(secret), sorted(scopes), revoked=False)
        return key, secret

    def _current(self, key: str) -> tuple | None:
        rows = self.clickhouse.run("credential_by_key", {"key": key})
        return rows[0] if rows else None

    def rotate(self, key: str) -> str:
        """Give ``key`` a new secret; the old one stops working (within the cache time)."""
        row = self._current(key)
        if row is None:
            raise UnknownCredential(f"no credential with key {key}")
        tenant, name, _, scopes, _ = row
        secret = secrets.token_urlsafe(24)
        self._write(key, tenant, name, _HASHER.hash(secret), list(scopes), revoked=False)
        return secret

    def revoke(self, key: str) -> None:
        """Revoke ``key`` for good."""
        row = self._current(key)
        if row is None:
            raise UnknownCredential(f"no credential with key {key}")
        tenant, name, secret_hash, scopes, _ = row
        self._write(key, tenant, name, secret_hash, list(scopes), revoked=True)

    def list(self, tenant: str) -> list[dict]:
        """Credentials of a tenant, without secrets."""
        rows = self.clickhouse.run("credentials_list", {"tenant": tenant})
        return [{"key": k, "name": n, "scopes": list(s), "revoked": bool(r)} for k, n, s, r, _ in rows]

    def authenticate(self, key: str, secret: str) -> Client | None:
        """The client for a key/secret pair, or None.

        argon2 (deliberately slow) runs once per process for each key/secret/stored-hash: a success is
        remembered against the stored hash, and the key's row is re-read at most every
        ``credentials_cache_s``, so a rotation or revocation still takes effect within that time.
        Concurrent requests with the same credentials wait for one verification instead of each running
        their own.
        """
        row = self._row(key)
        if row is None or row[4]:
            # Unknown or revoked key: the same argon2 work as a wrong secret, so timing does not tell them apart.
            _verify_dummy(secret)
            return None
        tenant, name, secret_hash, scopes, _ = row
        digest = _digest(key, secret)
        if self._verified.get(digest) != secret_hash:
            with self._flight(b"v" + digest):
                if self._verified.get(digest) != secret_hash:
                    try:
                        _HASHER.verify(secret_hash, secret)
                    except (VerificationError, InvalidHashError):
                        return None
                    with self._lock:
                        if len(self._verified) > 100_000:
                            self._verified.clear()
                        self._verified[digest] = secret_hash
        return Client(key=key, tenant=tenant, name=name, scopes=frozenset(scopes))

    def cached(self, key: str, secret: str) -> Client | None:
        """The client if both the key's row and this secret's verification are cached and current, else None.

        No I/O and no hashing beyond one sha256, so the request can skip a thread hop; on None the caller
        asks :meth:`authenticate`, which also answers unknown and revoked keys.
        """
        hit = self._rows.get(key)
        if hit is None or hit[0] <= self.clock() or hit[1] is None:
            return None
        tenant, name, secret_hash, scopes, revoked = hit[1]
        if revoked or self._verified.get(_digest(key, secret)) != secret_hash:
            return None
        return Client(key=key, tenant=tenant, name=name, scopes=frozenset(scopes))

    def _row(self, key: str) -> tuple | None:
        """The key's stored row, re-read at most every ``credentials_cache_s`` (one reader at a time)."""
        hit = self._rows.get(key)
        if hit and hit[0] > self.clock():
            return hit[1]
        with self._flight(b"r" + key.encode()):
            hit = self._rows.get(key)
            if hit and hit[0] > self.clock():
                return hit[1]
            try:
                row = self._current(key)
            except Exception:
                # ClickHouse unreachable: keep accepting keys known before, so ingest (which only needs
                # Kafka) keeps working through a ClickHouse outage.
                if hit is not None:
                    return hit[1]
                raise
            with self._lock:
                if len(self._rows) > 100_000:
                    self._rows.clear()
                self._rows[key] = (self.clock() + self.settings.credentials_cache_s, row)
            return row

    def _flight(self, name: bytes) -> threading.Lock:
        with self._lock:
            lock = self._flights.get(name)
            if lock is None:
                if len(self._flights) > 100_000:
                    self._flights.clear()
                lock = self._flights[name] = threading.Lock()
            return lock


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash by ``hasher`` (so with the parameters of real ones) of a random secret nobody knows; made once."""
    return hasher.hash(secrets.token_urlsafe(24))


def _verify_dummy(secret: str) -> None:
    """Spend one argon2 verification on ``secret``, which never matches: the work of checking a wrong secret."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _HASHER.verify(_dummy_hash(_HASHER), secret)


def _digest(key: str, secret: str) -> bytes:
    """What a verified key/secret pair is remembered by (never the secret itself)."""
    return hashlib.sha256(f"{key}\0{secret}".encode()).digest()
