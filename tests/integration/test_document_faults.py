"""Document writes when workers stop or die: bounded 503, queued commands applied later, no lost update."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest

from tests.support import ManagedProcess, Pipeline, free_ports, make_settings, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PROFILE = "/xapi/activities/profile"


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A pipeline of its own with two workers sharing the partitions (these tests stop and kill them)."""
    settings = make_settings(tmp_path_factory.mktemp("docfaults"), document_wait_s=40.0)
    running = Pipeline(settings, workers=2).start()
    try:
        # The faults start once a document write has gone through the workers: right after a start, the group's
        # rebalances (two workers joining) held the first write longer than a client's 30 s on a loaded CI machine.
        _, http = running.new_tenant()
        with http:
            wait_until(lambda: http.put(PROFILE, params=_params("warm-up"), json={"ready": True},
                                        timeout=60).status_code == 204, 180, interval=1,
                       what="a document write through the workers")
        yield running
    finally:
        running.stop()


def _params(doc: str) -> dict[str, str]:
    return {"activityId": "https://example.com/activities/faults", "profileId": doc}


def _increment(http: httpx.Client, doc: str, n: int) -> None:
    """Set the counter document to ``n`` with If-Match on the current version, retrying until it is."""
    for _ in range(20):
        got = http.get(PROFILE, params=_params(doc))
        current = got.json()["n"]
        if current >= n:
            return  # an earlier attempt that answered 503 was applied after all
        response = http.put(PROFILE, params=_params(doc), json={"n": current + 1},
                            headers={"If-Match": got.headers["etag"]})
        assert response.status_code in (204, 412, 503), response.text
    raise AssertionError(f"could not set {doc} to {n}")


def test_killed_worker_loses_no_update(two_workers: Pipeline) -> None:
    """Conditional increments on several documents while one worker is SIGKILLed: every one applies once."""
    _, http = two_workers.new_tenant()
    docs = [f"counter-{i}" for i in range(6)]  # several sets, so both workers own some
    for doc in docs:
        created = http.put(PROFILE, params=_params(doc), json={"n": 0}, headers={"If-None-Match": "*"})
        assert created.status_code == 204, created.text
    for n in range(1, 9):
        if n == 4:
            two_workers.workers[0].kill(signal.SIGKILL)
        for doc in docs:
            _increment(http, doc, n)
    for doc in docs:
        assert http.get(PROFILE, params=_params(doc)).json() == {"n": 8}
    two_workers.workers[0].start()


def test_stopped_workers_give_503_then_the_write_applies(two_workers: Pipeline) -> None:
    _, http = two_workers.new_tenant()
    (port,) = free_ports(1)
    env = {**two_workers.env, "LRS_HTTP_PORT": str(port), "LRS_DOCUMENT_WAIT_S": "2"}
    impatient = ManagedProcess("lrs-impatient", ["serve"], env,
                               two_workers.lrs.log_path.with_name("lrs-impatient.log")).start()
    for worker in two_workers.workers:
        worker.stop()
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/xapi/about", timeout=1).status_code == 200, 30,
                   what="the second LRS")
        short = httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=http.auth, headers=http.headers, timeout=30)
        response = short.put(PROFILE, params=_params("queued"), json={"q": 1}, headers={"If-None-Match": "*"})
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1" and response.json()["error"]["message"]
        assert http.get(PROFILE, params=_params("queued")).status_code == 404
    finally:
        impatient.stop()
        for worker in two_workers.workers:
            worker.start()
    # The command stayed in Kafka: once a worker is back it is applied, exactly as the 503 warns.
    wait_until(lambda: http.get(PROFILE, params=_params("queued")).status_code == 200, 120, interval=0.5,
               what="the queued document command to be applied")
    assert http.get(PROFILE, params=_params("queued")).json() == {"q": 1}
