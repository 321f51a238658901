"""Credential verification: argon2 once per key/secret, shared by concurrent requests; rotation and revocation."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lrs.core.config import Settings
from lrs.service.auth import credentials
from lrs.service.auth.credentials import CredentialStore


class FakeClickHouse:
    """Holds one credential row; counts reads."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple] = {}
        self.reads = 0

    def run(self, name: str, params: dict) -> list[tuple]:
        assert name == "credential_by_key"
        self.reads += 1
        row = self.rows.get(params["key"])
        return [row] if row else []


class FakeClock:
    """The row cache's clock, advanced by the test instead of slept on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingHasher:
    def __init__(self) -> None:
        self.real = credentials.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        self.verifies = 0
        self.lock = threading.Lock()

    def hash(self, secret: str) -> str:
        return self.real.hash(secret)

    def verify(self, stored: str, secret: str) -> bool:
        with self.lock:
            self.verifies += 1
        time.sleep(0.05)  # slow, like the real thing (so concurrent requests overlap; no time is measured)
        return self.real.verify(stored, secret)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> tuple[CredentialStore, FakeClickHouse, CountingHasher]:
    hasher = CountingHasher()
    monkeypatch.setattr(credentials, "_HASHER", hasher)
    fake = FakeClickHouse()
    fake.rows["k1"] = ("acme", "lms", hasher.hash("s3cret"), ["all"], 0)
    return CredentialStore(Settings(credentials_cache_s=0.2), fake, clock=clock), fake, hasher


def test_concurrent_requests_share_one_verification(store, clock: FakeClock) -> None:
    creds, fake, hasher = store
    with ThreadPoolExecutor(16) as pool:
        clients = list(pool.map(lambda _: creds.authenticate("k1", "s3cret"), range(64)))
    assert all(c is not None and c.tenant == "acme" for c in clients)
    assert hasher.verifies == 1
    assert fake.reads == 1
    clock.advance(0.25)  # row cache expired: one cheap re-read, no new argon2
    assert creds.authenticate("k1", "s3cret") is not None
    assert (hasher.verifies, fake.reads) == (1, 2)


def test_wrong_secret_never_rides_on_a_cached_success(store) -> None:
    creds, _, hasher = store
    assert creds.authenticate("k1", "s3cret") is not None
    assert creds.authenticate("k1", "wrong") is None
    assert creds.authenticate("k1", "wrong") is None
    assert hasher.verifies == 3
    assert creds.authenticate("nope", "s3cret") is None


def test_rotation_and_revocation_take_effect_within_the_cache_time(store, clock: FakeClock) -> None:
    creds, fake, hasher = store
    assert creds.authenticate("k1", "s3cret") is not None
    fake.rows["k1"] = ("acme", "lms", hasher.hash("n3w"), ["all"], 0)  # rotated elsewhere
    clock.advance(0.1)
    assert creds.authenticate("k1", "s3cret") is not None  # within the cache time the cached row still holds
    clock.advance(0.15)
    assert creds.authenticate("k1", "s3cret") is None
    assert creds.authenticate("k1", "n3w") is not None
    fake.rows["k1"] = ("acme", "lms", fake.rows["k1"][2], ["all"], 1)  # revoked
    clock.advance(0.25)
    assert creds.authenticate("k1", "n3w") is None


def test_clickhouse_outage_keeps_known_keys(store, clock: FakeClock) -> None:
    creds, fake, _ = store
    assert creds.authenticate("k1", "s3cret") is not None

    def down(*_: object) -> list:
        raise OSError("connection refused")

    fake.run = down
    clock.advance(0.25)
    assert creds.authenticate("k1", "s3cret") is not None
    with pytest.raises(OSError):
        creds.authenticate("other", "x")
