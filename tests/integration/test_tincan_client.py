"""A real third-party xAPI client (TinCanPython, PyPI ``tincan``) works against the LRS unchanged."""

from __future__ import annotations

import uuid

import pytest

from tests.support import Pipeline

tincan = pytest.importorskip("tincan")


def _lrs(pipeline: Pipeline) -> tincan.RemoteLRS:
    from lrs.auth.credentials import CredentialStore
    from lrs.store.clickhouse import ClickHouse

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
