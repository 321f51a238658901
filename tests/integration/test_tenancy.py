"""Tenants (brands) never see each other's data, and scopes decide what a client may do (401 vs 403)."""

from __future__ import annotations

import json

from tests.support import Pipeline, statement

SHARED_ACTIVITY = "https://shared.example.com/activities/intro"
SHARED_ACTOR = "shared.learner@example.com"


def _seed(pipeline: Pipeline):
    """Two tenants that use the same actor and activity ids; A stores three statements, voids one."""
    _, a = pipeline.new_tenant()
    _, b = pipeline.new_tenant()
    sent = [statement(actor=SHARED_ACTOR, activity=SHARED_ACTIVITY, object={
        "objectType": "Activity", "id": SHARED_ACTIVITY,
        "definition": {"name": {"en-US": "Secret course of A"}}}) for _ in range(3)]
    assert a.post("/xapi/statements", json=sent).status_code == 200
    void = statement(actor=SHARED_ACTOR, verb="http://adlnet.gov/expapi/verbs/voided",
                     object={"objectType": "StatementRef", "id": sent[2]["id"]})
    assert a.post("/xapi/statements", json=void).status_code == 200
    return a, b, sent


def test_statements_are_invisible_to_other_tenants(pipeline: Pipeline) -> None:
    a, b, sent = _seed(pipeline)
    # Owner sees them.
    assert a.get("/xapi/statements", params={"statementId": sent[0]["id"]}).status_code == 200
    assert a.get("/xapi/statements", params={"voidedStatementId": sent[2]["id"]}).status_code == 200
    # The other tenant gets 404 for single and voided reads, and empty queries whatever the filter.
    assert b.get("/xapi/statements", params={"statementId": sent[0]["id"]}).status_code == 404
    assert b.get("/xapi/statements", params={"voidedStatementId": sent[2]["id"]}).status_code == 404
    agent = json.dumps({"mbox": f"mailto:{SHARED_ACTOR}"})
    for params in ({}, {"agent": agent}, {"activity": SHARED_ACTIVITY}, {"agent": agent, "related_agents": "true"},
                   {"activity": SHARED_ACTIVITY, "related_activities": "true"}):
        got = b.get("/xapi/statements", params=params)
        assert got.status_code == 200
        assert got.json()["statements"] == [], params


def test_more_links_do_not_cross_tenants(pipeline: Pipeline) -> None:
    a, b, _ = _seed(pipeline)
    first = a.get("/xapi/statements", params={"limit": 1})
    more = first.json()["more"]
    assert more
    assert a.get(more).json()["statements"], "the owner can follow its more link"
    stolen = b.get(more)
    assert stolen.status_code in (200, 400)
    if stolen.status_code == 200:
        assert stolen.json()["statements"] == []


def test_agents_and_activities_resources_are_per_tenant(pipeline: Pipeline) -> None:
    a, b, _ = _seed(pipeline)
    mine = a.get("/xapi/activities", params={"activityId": SHARED_ACTIVITY}).json()
    assert mine["definition"]["name"]["en-US"] == "Secret course of A"
    theirs = b.get("/xapi/activities", params={"activityId": SHARED_ACTIVITY}).json()
    assert "definition" not in theirs, "B must not learn A's activity definitions"

    named = statement(actor=SHARED_ACTOR)
    named["actor"]["name"] = "Name known to A"
    assert a.post("/xapi/statements", json=named).status_code == 200
    agent = json.dumps({"mbox": f"mailto:{SHARED_ACTOR}"})
    assert a.get("/xapi/agents", params={"agent": agent}).json().get("name") == ["Name known to A"]
    assert "name" not in b.get("/xapi/agents", params={"agent": agent}).json()


def test_write_only_and_read_only_scopes(pipeline: Pipeline) -> None:
    _, writer = pipeline.new_tenant(scopes=("statements/write",))
    sent = statement()
    assert writer.post("/xapi/statements", json=sent).status_code == 200
    assert writer.get("/xapi/statements", params={"statementId": sent["id"]}).status_code == 403
    assert writer.get("/xapi/activities", params={"activityId": SHARED_ACTIVITY}).status_code == 403

    _, reader = pipeline.new_tenant(scopes=("all/read",))
    assert reader.post("/xapi/statements", json=statement()).status_code == 403
    assert reader.put("/xapi/statements", params={"statementId": sent["id"]}, json=sent).status_code == 403
    assert reader.get("/xapi/statements").status_code == 200


def test_read_mine_sees_only_its_own_statements(pipeline: Pipeline) -> None:
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    tenant, full = pipeline.new_tenant()
    store = CredentialStore(pipeline.settings, ClickHouse(pipeline.settings, size=1))
    key, secret = store.create(tenant, scopes=("statements/write", "statements/read/mine"))
    mine_client = full.__class__(base_url=str(full.base_url), auth=(key, secret), headers=full.headers, timeout=30)
    others = statement()
    assert full.post("/xapi/statements", json=others).status_code == 200
    own = statement()
    assert mine_client.post("/xapi/statements", json=own).status_code == 200

    ids = [s["id"] for s in mine_client.get("/xapi/statements").json()["statements"]]
    assert ids == [own["id"]]
    assert mine_client.get("/xapi/statements", params={"statementId": others["id"]}).status_code == 404
    assert mine_client.get("/xapi/statements", params={"statementId": own["id"]}).status_code == 200


def test_unknown_revoked_and_missing_credentials_are_401(pipeline: Pipeline) -> None:
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    tenant, full = pipeline.new_tenant()
    store = CredentialStore(pipeline.settings, ClickHouse(pipeline.settings, size=1))
    key, secret = store.create(tenant)
    client = full.__class__(base_url=str(full.base_url), auth=(key, secret), headers=full.headers, timeout=30)
    assert client.get("/xapi/statements").status_code == 200
    wrong = full.__class__(base_url=str(full.base_url), auth=(key, secret + "x"), headers=full.headers, timeout=30)
    assert wrong.get("/xapi/statements").status_code == 401
    anonymous = full.__class__(base_url=str(full.base_url), headers=full.headers, timeout=30)
    response = anonymous.get("/xapi/statements")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    store.revoke(key)
    # Revocation takes effect without a restart, within the credentials cache time.
    from tests.support import wait_until

    wait_until(lambda: client.get("/xapi/statements").status_code == 401,
               pipeline.settings.credentials_cache_s + 10, what="revoked key to be refused")


def test_analytics_are_per_tenant(pipeline: Pipeline) -> None:
    """Two brands with the same course id and the same learner: each sees only its own figures."""
    from tests.support import wait_until

    course = "https://shared.example.com/courses/onboarding"

    def in_course(actor: str) -> dict:
        body = statement(actor=actor, activity=f"{course}/m1")
        body["context"] = {"contextActivities": {"grouping": [
            {"id": course, "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}]}}
        return body

    tenant_a, a = pipeline.new_tenant()
    tenant_b, b = pipeline.new_tenant()
    both = [in_course(SHARED_ACTOR), in_course("only.a@example.com")]
    assert a.post("/xapi/statements", json=both).status_code == 200
    assert b.post("/xapi/statements", json=[in_course(SHARED_ACTOR)]).status_code == 200

    def started(tenant: str) -> int:
        client = pipeline.clickhouse()
        try:
            rows = client.execute("SELECT learners_started FROM course_summary "
                                  "WHERE tenant = %(t)s AND course_id = %(c)s", {"t": tenant, "c": course})
            return int(rows[0][0]) if rows else -1
        finally:
            client.disconnect()

    wait_until(lambda: started(tenant_a) == 2 and started(tenant_b) == 1, 60, what="per-tenant course summaries")
