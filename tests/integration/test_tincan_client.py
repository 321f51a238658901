"""A real third-party xAPI client (TinCanPython, PyPI ``tincan``) works against the LRS unchanged."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support import Pipeline

tincan = pytest.importorskip("tincan")


def _lrs(pipeline: Pipeline) -> tincan.RemoteLRS:
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    tenant = f"tincan{uuid.uuid4().hex[:8]}"
    key, secret = CredentialStore(pipeline.settings, ClickHouse(pipeline.settings, size=1)).create(tenant)
    return tincan.RemoteLRS(endpoint=f"{pipeline.base_url}/xapi/", version="1.0.3", username=key, password=secret)


def _statement(verb: str = "completed") -> tincan.Statement:
    return tincan.Statement(
        id=str(uuid.uuid4()),
        actor=tincan.Agent(name="Ada", mbox="mailto:ada@example.com"),
        verb=tincan.Verb(id=f"http://adlnet.gov/expapi/verbs/{verb}", display=tincan.LanguageMap({"en-US": verb})),
        object=tincan.Activity(
            id="https://brand.example.com/courses/onboarding",
            definition=tincan.ActivityDefinition(
                name=tincan.LanguageMap({"en-US": "Onboarding"}),
                type="http://adlnet.gov/expapi/activities/course",
            ),
        ),
        result=tincan.Result(completion=True, success=True, score=tincan.Score(scaled=0.9)),
    )


def test_about_save_retrieve_and_query(pipeline: Pipeline) -> None:
    lrs = _lrs(pipeline)
    about = lrs.about()
    assert about.success, about.response.data
    assert "1.0.3" in about.content.version

    sent = _statement()
    saved = lrs.save_statement(sent)
    assert saved.success, saved.response.data

    got = lrs.retrieve_statement(str(sent.id))
    assert got.success, got.response.data
    assert str(got.content.id) == str(sent.id)
    assert got.content.verb.id == sent.verb.id
    assert got.content.result.score.scaled == 0.9
    assert got.content.actor.mbox == "mailto:ada@example.com"

    batch = [_statement("experienced") for _ in range(5)]
    saved = lrs.save_statements(batch)
    assert saved.success, saved.response.data

    query = lrs.query_statements({"verb": tincan.Verb(id="http://adlnet.gov/expapi/verbs/experienced"), "limit": 2})
    assert query.success, query.response.data
    first = query.content
    assert len(first.statements) == 2
    assert first.more, "a page of 2 out of 5 must link to more"
    seen = [str(s.id) for s in first.statements]
    while first.more:
        page = lrs.more_statements(first)
        assert page.success, page.response.data
        first = page.content
        seen += [str(s.id) for s in first.statements]
    assert sorted(seen) == sorted(str(s.id) for s in batch)


def test_voiding_through_the_client(pipeline: Pipeline) -> None:
    lrs = _lrs(pipeline)
    target = _statement()
    assert lrs.save_statement(target).success
    void = tincan.Statement(
        actor=tincan.Agent(mbox="mailto:admin@example.com"),
        verb=tincan.Verb(id="http://adlnet.gov/expapi/verbs/voided", display=tincan.LanguageMap({"en-US": "voided"})),
        object=tincan.StatementRef(id=str(target.id)),
    )
    assert lrs.save_statement(void).success
    assert not lrs.retrieve_statement(str(target.id)).success
    voided = lrs.retrieve_voided_statement(str(target.id))
    assert voided.success, voided.response.data
    assert str(voided.content.id) == str(target.id)


def test_profile_documents_through_the_client(pipeline: Pipeline) -> None:
    # TinCanPython PUTs a new profile without If-Match/If-None-Match (xAPI asks for 409 only if it exists).
    lrs = _lrs(pipeline)
    raw = httpx.Client(base_url=pipeline.base_url, timeout=30,
                       headers={"Authorization": lrs.auth, "X-Experience-API-Version": "1.0.3"})
    activity = tincan.Activity(id=f"https://brand.example.com/courses/{uuid.uuid4().hex[:8]}")
    agent = tincan.Agent(name="Ada", mbox=f"mailto:ada-{uuid.uuid4().hex[:8]}@example.com")
    documents = [
        (tincan.ActivityProfileDocument(id="settings", activity=activity, content_type="application/json",
                                        content='{"theme":"dark"}'),
         lambda doc: lrs.retrieve_activity_profile(activity, doc.id), lrs.save_activity_profile,
         lambda: lrs.retrieve_activity_profile_ids(activity),
         ("/xapi/activities/profile", {"activityId": activity.id, "profileId": "settings"})),
        (tincan.AgentProfileDocument(id="preferences", agent=agent, content_type="application/json",
                                     content='{"lang":"fr"}'),
         lambda doc: lrs.retrieve_agent_profile(agent, doc.id), lrs.save_agent_profile,
         lambda: lrs.retrieve_agent_profile_ids(agent),
         ("/xapi/agents/profile", {"agent": agent.to_json("1.0.3"), "profileId": "preferences"})),
    ]
    for document, retrieve, save, ids, (path, params) in documents:
        created = save(document)
        assert created.success, (created.response.status, created.response.data)
        got = retrieve(document)
        assert got.success, got.response.data
        assert bytes(got.content.content) == bytes(document.content)
        listed = ids()
        assert listed.success and listed.content == [document.id]
        # Saving again without an ETag would overwrite blindly: 409 (xAPI 3.1), nothing changed.
        got.content.content = '{"blind":true}'
        blind = save(got.content)
        assert not blind.success and blind.response.status == 409
        # TinCanPython 1.0.0 never fills doc.etag (it looks the header up in a list of tuples), so the
        # application supplies the ETag it read; the client then sends it as If-Match.
        etag = raw.get(path, params=params).headers["etag"]
        got.content.etag = etag
        got.content.content = '{"updated":true}'
        updated = save(got.content)
        assert updated.success, (updated.response.status, updated.response.data)
        assert bytes(retrieve(document).content.content) == b'{"updated":true}'
        got.content.content = '{"stale":true}'
        stale = save(got.content)
        assert not stale.success and stale.response.status == 412
