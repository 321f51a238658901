"""GDPR erasure: ``lrs erase`` removes a learner from the raw table, documents and analytics, nothing else."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from tests.support import ROOT, Pipeline, statement, wait_until

COURSE = "https://brand.example.com/courses/privacy"
ERASED = "erase.me@example.com"
KEPT = "keep.me@example.com"


def _in_course(actor: str, verb: str = "experienced", **extra) -> dict:
    body = statement(actor=actor, verb=f"http://adlnet.gov/expapi/verbs/{verb}",
                     activity=f"{COURSE}/module-1", **extra)
    body["object"]["definition"] = {"type": "http://adlnet.gov/expapi/activities/module"}
    body["context"] = {**body.get("context", {}), "contextActivities": {"grouping": [
        {"id": COURSE, "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}]}}
    return body


def _learners(pipeline: Pipeline, tenant: str) -> set[str]:
    client = pipeline.clickhouse()
    try:
        rows = client.execute("SELECT actor_ifi FROM learner_course WHERE tenant = %(t)s AND course_id = %(c)s",
                              {"t": tenant, "c": COURSE})
        return {r[0] for r in rows}
    finally:
        client.disconnect()


def _scalar(pipeline: Pipeline, sql: str, params: dict) -> int:
    client = pipeline.clickhouse()
    try:
        return int(client.execute(sql, params)[0][0])
    finally:
        client.disconnect()


def test_erase_removes_the_learner_everywhere_and_keeps_the_others(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    erased_agent = {"objectType": "Agent", "mbox": f"mailto:{ERASED}"}
    kept_only = _in_course(KEPT)
    mentions_erased = _in_course(KEPT, context={"instructor": erased_agent})
    batch = [_in_course(ERASED), _in_course(ERASED, "completed"), kept_only, mentions_erased]
    assert http.post("/xapi/statements", json=batch).status_code == 200
    state = {"activityId": COURSE, "agent": json.dumps(erased_agent), "stateId": "bookmark"}
    assert http.put("/xapi/activities/state", params=state, json={"page": 3}).status_code == 204
    kept_state = {**state, "agent": json.dumps({"mbox": f"mailto:{KEPT}"})}
    assert http.put("/xapi/activities/state", params=kept_state, json={"page": 1}).status_code == 204
    wait_until(lambda: _learners(pipeline, tenant) == {f"mbox:mailto:{ERASED}", f"mbox:mailto:{KEPT}"}, 60,
               what="both learners in the analytics")

    env = {**pipeline.env}
    done = subprocess.run([sys.executable, "-m", "lrs", "erase", "--tenant", tenant, "--agent",
                           json.dumps(erased_agent), "--wait", "90"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "erased" in done.stdout and "3 statement(s), 1 document(s)" in done.stdout, done.stdout

    ifi = f"mbox:mailto:{ERASED}"
    # Raw table: no row (of any version, merged or not) names the learner; the unrelated statement stays.
    for table in ("statements", "statements_by_stored", "statements_by_time"):  # and the copies GETs and panels read
        assert _scalar(pipeline, f"SELECT count() FROM {table} WHERE tenant = %(t)s AND has(related_agents, %(i)s)",
                       {"t": tenant, "i": ifi}) == 0, table
    ids = [s["id"] for s in http.get("/xapi/statements").json()["statements"]]
    assert ids == [kept_only["id"]]
    assert http.get("/xapi/statements", params={"agent": json.dumps(erased_agent)}).json()["statements"] == []
    # Documents: the learner's state is gone, the other learner's stays.
    assert http.get("/xapi/activities/state", params=state).status_code == 404
    assert http.get("/xapi/activities/state", params=kept_state).json() == {"page": 1}
    # Analytics: no version of the per-learner table holds them; the views are recomputed without them.
    assert _scalar(pipeline, "SELECT count() FROM learner_course_data WHERE tenant = %(t)s AND actor_ifi = %(i)s",
                   {"t": tenant, "i": ifi}) == 0
    assert _learners(pipeline, tenant) == {f"mbox:mailto:{KEPT}"}
    # Aggregates are recomputed from what remains: one statement (the other one named the erased learner).
    wait_until(lambda: _scalar(pipeline, "SELECT sum(statements) FROM engagement_daily WHERE tenant = %(t)s",
                               {"t": tenant}) == 1, 60, what="aggregates recomputed without the learner")
    # The erasure log keeps hashes, never the identifier itself.
    client = pipeline.clickhouse()
    try:
        logged = client.execute("SELECT ifi_sha256 FROM erasures WHERE tenant = %(t)s", {"t": tenant})
    finally:
        client.disconnect()
    assert logged == [(sorted([hashlib.sha256(ifi.encode()).hexdigest(), hashlib.sha256(
        f"mbox_sha1sum:{hashlib.sha1(f'mailto:{ERASED}'.encode()).hexdigest()}".encode()).hexdigest()]),)]
    assert ERASED not in str(logged)


def test_erase_rejects_what_is_not_an_agent(pipeline: Pipeline) -> None:
    tenant, _ = pipeline.new_tenant()
    for agent in ('{"name": "no identifier"}', "not json", '{"objectType": "Group", "member": []}'):
        done = subprocess.run([sys.executable, "-m", "lrs", "erase", "--tenant", tenant, "--agent", agent,
                               "--wait", "0"], env=pipeline.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 6, (agent, done.stdout, done.stderr)  # ExitCode.BAD_INPUT
        assert done.stderr.startswith("lrs: error: agent") and "Traceback" not in done.stderr, done.stderr
