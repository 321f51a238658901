"""The eraser's bookkeeping on an injected clock: attempts, the timeout of unfinished mutations, back-off, done.

ClickHouse is a small fake that records what the eraser writes and answers its reads (the deletes themselves are
tested on the real server in tests/integration/test_erasure.py).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from lrs.core.config import Settings
from lrs.core.kafka.envelope import Erasure
from lrs.core.kafka.markers import LEARNER_LEFT
from streams.erasure import US, Eraser, ErasureFence, Request, delete_statements, ifi_hashes

TABLES = [("documents", ["agent"]), ("learner_state", ["actor_ifi"]), ("statements", ["actor_ifi", "related_agents"])]


class FakeClickHouse:
    """Request rows kept newest-wins, the way ``erasure_requests FINAL`` reads them."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], Request] = {}
        self.pending_mutations = 0
        self.executed: list[str] = []
        self.rows_left = 0  # per-learner rows a racing refresh wrote after the deletes
        self.logged: list[list[Any]] = []
        self.reloads: list[tuple] = []  # learner_state_writes rows: courses to load again into memory
        self.deleted = False  # whether the deletes of an attempt ran (a new attempt finds nothing more)

    def run(self, name: str, params: dict | None = None) -> list[tuple]:
        params = params or {}
        if name == "erasure_tables":
            return TABLES
        if name == "erasure_request":
            found = self.requests.get((params["tenant"], params["request_id"]))
            return [tuple(found.as_row())] if found else []
        if name == "erasure_requests_open":
            return [tuple(r.as_row()) for r in self.requests.values() if r.state in ("pending", "applying", "failed")]
        if name == "erasure_counts":
            return [(3, 1, [])]
        if name == "erasure_learners":  # none once the deletes ran
            return [] if self.deleted else [("course", "mbox:mailto:erased@example.com"),
                                             ("course", "mbox:mailto:other@example.com")]
        if name == "erasure_attachments":
            return [] if self.deleted else [("ab12",)]
        if name == "erasure_mutations_pending":
            return [(self.pending_mutations,)]
        if name in ("erasure_request_merge", "statement_removals_open"):  # no removal of a race's loser here
            return []
        raise AssertionError(f"unexpected query {name}")

    def after_mutation(self, client: object, table: str) -> None:
        """The barrier of a replicated cluster (lrs.core.store.clickhouse): nothing on a single node."""

    def insert(self, name: str, rows: list[list[Any]]) -> None:
        if name == "erasure_request_insert":
            for row in rows:
                request = Request.from_row(tuple(row))
                key = (request.tenant, request.request_id)
                if key not in self.requests or self.requests[key].updated_us <= request.updated_us:
                    self.requests[key] = request
        elif name == "erasure_insert":
            self.logged += rows
        elif name == "learner_state_writes_insert":
            self.reloads += [tuple(row[:3]) for row in rows]
        else:
            raise AssertionError(f"unexpected insert {name}")

    @contextmanager
    def client(self):  # noqa: ANN201 - the driver's client, reduced to execute
        outer = self

        class Client:
            def execute(self, sql: str, params: dict) -> list[tuple] | None:
                if sql.startswith("SELECT count() FROM "):
                    return [(outer.rows_left,)]
                outer.executed.append(sql.split(" DELETE")[0])
                return None

        yield Client()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * US

    def __call__(self) -> int:
        return self.now


def _eraser() -> tuple[Eraser, FakeClickHouse, Clock]:
    fake, clock = FakeClickHouse(), Clock()
    settings = Settings(erasure_timeout_s=60, erasure_retry_initial_s=10, erasure_retry_max_s=40)
    return Eraser(settings, fake, clock=clock), fake, clock  # type: ignore[arg-type]


def _request(fake: FakeClickHouse) -> Request:
    (request,) = fake.requests.values()
    return request


def test_one_delete_per_learner_table_chosen_by_column() -> None:
    fake = FakeClickHouse()
    statements = {table: sql for table, _, sql in delete_statements(fake)}  # type: ignore[arg-type]
    assert set(statements) == {"documents", "learner_state", "statements"}
    assert statements["documents"].startswith("ALTER TABLE documents DELETE") and "agent IN" in statements["documents"]
    assert "actor_ifi IN" in statements["learner_state"]
    assert "related_agents" in statements["statements"]  # related_agents wins over actor_ifi


def test_an_erasure_is_issued_then_done_once_its_mutations_finish() -> None:
    eraser, fake, clock = _eraser()
    erased = "mbox:mailto:erased@example.com"
    eraser.accept(Erasure("t", "r1", (erased,), 5))
    assert _request(fake).state == "pending" and _request(fake).ifis == [erased]
    fake.pending_mutations = 2
    assert eraser.step() == []
    issued = _request(fake)
    assert issued.state == "applying" and issued.attempts == 1 and issued.attachments == ["ab12"]
    assert fake.executed == ["ALTER TABLE documents", "ALTER TABLE learner_state", "ALTER TABLE statements",
                             "ALTER TABLE attachments"]
    # The erased learner is deleted, never recomputed (that would write their identifier again); LEARNER_LEFT
    # makes the worker that owns the course load it into memory again from its learner rows.
    assert issued.work() == {("t", "course"): {"mbox:mailto:other@example.com", LEARNER_LEFT}}
    clock.now += 30 * US
    assert eraser.step() == []  # still running, within the timeout: nothing changes, nothing is re-issued
    assert _request(fake).state == "applying" and len(fake.executed) == 4
    fake.pending_mutations = 0
    ((finished, work),) = eraser.step()
    assert work == {("t", "course"): {"mbox:mailto:other@example.com", LEARNER_LEFT}}
    assert fake.reloads == [("t", "course", "eraser:r1")]  # a worker holding the course loads it again
    eraser.finish(finished)
    done = _request(fake)
    assert done.state == "done" and done.ifis == [] and done.work_learners == [] and done.statements_erased == 3
    assert erased not in str(fake.logged) and fake.logged[0][1] == "r1"


def test_unfinished_mutations_fail_the_attempt_which_is_retried_with_backoff() -> None:
    eraser, fake, clock = _eraser()
    eraser.accept(Erasure("t", "r1", ("mbox:mailto:erased@example.com",), 5))
    fake.pending_mutations = 1
    eraser.step()
    clock.now += 61 * US  # past erasure_timeout_s
    eraser.step()
    failed = _request(fake)
    assert failed.state == "failed" and failed.attempts == 1 and "unfinished after 61s" in failed.error
    # Back-off: between half and all of the initial 10 s; not retried before that.
    assert clock.now + 5 * US <= failed.next_try_us <= clock.now + 10 * US
    eraser.step()
    assert _request(fake).state == "failed" and len(fake.executed) == 4
    clock.now = failed.next_try_us
    eraser.step()
    retried = _request(fake)
    assert retried.state == "applying" and retried.attempts == 2 and len(fake.executed) == 8
    clock.now += 61 * US
    eraser.step()
    second = _request(fake)
    assert second.state == "failed" and second.attempts == 2
    assert clock.now + 10 * US <= second.next_try_us <= clock.now + 20 * US  # doubled


def test_a_failing_query_fails_the_attempt_and_counts_it() -> None:
    eraser, fake, clock = _eraser()
    eraser.accept(Erasure("t", "r1", ("mbox:mailto:erased@example.com",), 5))
    original = fake.run

    def broken(name: str, params: dict | None = None) -> list[tuple]:
        if name == "erasure_counts":
            raise OSError("connection refused")
        return original(name, params)

    fake.run = broken  # type: ignore[method-assign]
    eraser.step()
    failed = _request(fake)
    assert failed.state == "failed" and failed.attempts == 1 and "OSError: connection refused" in failed.error
    clock.now = failed.next_try_us
    eraser.step()
    assert _request(fake).attempts == 2


def test_rows_a_refresh_wrote_during_the_deletes_are_deleted_again() -> None:
    eraser, fake, _ = _eraser()
    eraser.accept(Erasure("t", "r1", ("mbox:mailto:erased@example.com",), 5))
    assert eraser.step() == []  # issued
    fake.rows_left = 2  # a refresh read the statements before the deletes and wrote its rows after them
    assert eraser.step() == [] and _request(fake).state == "pending"
    assert eraser.step() == [] and _request(fake).state == "applying" and _request(fake).attempts == 2
    assert fake.executed.count("ALTER TABLE learner_state") == 2
    fake.rows_left = 0
    ((finished, _),) = eraser.step()
    assert finished.request_id == "r1"


def test_a_redelivered_erasure_keeps_what_the_unfinished_attempt_found() -> None:
    # The erasure message delivered again (a rebalance) while its first attempt's deletes run: the new attempt finds
    # nothing to recompute any more, yet the courses must still be re-marked and reloaded without the learner.
    eraser, fake, clock = _eraser()
    erasure = Erasure("t", "r1", ("mbox:mailto:erased@example.com",), 5)
    eraser.accept(erasure)
    fake.pending_mutations = 1
    assert eraser.step() == []  # issued; its deletes run
    fake.deleted = True
    clock.now += US
    eraser.accept(erasure)
    assert _request(fake).state == "pending" and _request(fake).work_courses == ["course", "course"]
    fake.pending_mutations = 0
    assert eraser.step() == []  # issued again
    ((finished, work),) = eraser.step()
    assert work == {("t", "course"): {"mbox:mailto:other@example.com", LEARNER_LEFT}}
    assert finished.attachments == ["ab12"] and fake.reloads == [("t", "course", "eraser:r1")]


def test_an_erasure_requested_again_while_it_is_applied_is_applied_again() -> None:
    # A redelivered erasure message (its offset not committed before a rebalance) re-queues the request after the
    # pass read it: that pass's done must not win over the newer pending row, or nothing applies it again.
    eraser, fake, clock = _eraser()
    erasure = Erasure("t", "r1", ("mbox:mailto:erased@example.com",), 5)
    eraser.accept(erasure)
    assert eraser.step() == []  # issued
    ((finished, _),) = eraser.step()  # its mutations are done
    clock.now += US
    eraser.accept(erasure)  # redelivered meanwhile
    eraser.finish(finished)
    assert _request(fake).state == "pending" and fake.logged == []
    clock.now += US
    assert eraser.step() == []  # issued again
    assert _request(fake).state == "applying" and _request(fake).attempts == 2
    ((finished, _),) = eraser.step()
    eraser.finish(finished)
    assert _request(fake).state == "done" and len(fake.logged) == 1


def test_the_fence_keeps_out_what_was_stored_up_to_the_request_for_any_agent_named() -> None:
    fence = ErasureFence(None)  # type: ignore[arg-type] - add/admits read nothing
    erased, other = "mbox:mailto:erased@example.com", "mbox:mailto:other@example.com"
    fence.add("t", ifi_hashes([erased]), 100)
    assert not fence.admits("t", [erased], 99) and not fence.admits("t", [erased], 100)
    assert not fence.admits("t", [other, erased], 50)  # another learner's statement naming them (instructor, ...)
    assert fence.admits("t", [erased], 101)  # sent after the request: new data, kept
    assert fence.admits("t", [other], 50) and fence.admits("u", [erased], 50)  # other learners, other tenants
    fence.add("t", ifi_hashes([erased]), 80)  # an older request of the same learner does not move the fence back
    assert not fence.admits("t", [erased], 90)


def test_the_fence_names_the_requests_that_cover_a_row_written_after_their_deletes() -> None:
    fence = ErasureFence(None)  # type: ignore[arg-type] - add/covering read nothing
    erased, also, other = "mbox:mailto:erased@example.com", "account:https://x.example|erased", "mbox:mailto:o@x.io"
    fence.add("t", ifi_hashes([erased, also]), 100, "r1")
    assert fence.covering("t", [other, erased], 90) == {"r1": {erased}}
    assert fence.covering("t", [erased, also], 100) == {"r1": {erased, also}}
    assert fence.covering("t", [erased], 101) == {} and fence.covering("u", [erased], 90) == {}
    fence.add("t", ifi_hashes([erased]), 200, "r2")  # a later request of the same learner
    assert fence.covering("t", [erased], 90) == {"r2": {erased}}
    fence.add("t", ifi_hashes([erased]), 150, "r3")  # an older one does not move the fence back
    assert fence.covering("t", [erased], 90) == {"r2": {erased}}


def test_a_done_request_reopened_for_a_late_row_is_applied_again_with_its_hashes_kept() -> None:
    # A sink wrote a row the request covers after its deletes ran: the request is pending again, named by the
    # identifier found in the row (a done request keeps hashes only), every hash it had still fenced.
    eraser, fake, clock = _eraser()
    erased, also = "mbox:mailto:erased@example.com", "account:https://x.example|erased"
    eraser.accept(Erasure("t", "r1", (erased, also), 5))
    assert eraser.step() == []  # issued
    ((finished, _),) = eraser.step()
    eraser.finish(finished)
    done = _request(fake)
    assert done.state == "done" and done.ifis == []
    clock.now += US
    eraser.reopen("t", "r1", [erased])
    reopened = _request(fake)
    assert reopened.state == "pending" and reopened.ifis == [erased] and reopened.requested_us == 5
    assert reopened.ifi_sha256 == done.ifi_sha256 == ifi_hashes([erased, also])
    assert eraser.step() == [] and _request(fake).state == "applying"  # the deletes are issued again
    eraser.reopen("t", "missing", [erased])  # nothing recorded: nothing to apply (logged)
    assert ("t", "missing") not in fake.requests
