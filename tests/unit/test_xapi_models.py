"""Statement validation rules (xAPI Data 2.x), one accepted or rejected statement per case."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from lrs.core.xapi import Activity, Agent, Group, Statement, StatementRef, SubStatement, XAPIValidationError
from lrs.core.xapi import validate_statement as validate

AGENT = {"objectType": "Agent", "name": "Learner", "mbox": "mailto:learner@example.com"}
VERB = {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-US": "attended", "zh-Hans-CN": "参加"}}
ACTIVITY = {"objectType": "Activity", "id": "http://example.com/activities/course"}
UUID = "6c3e4a8e-27cb-4ec6-a2a1-4b1dcb2c3f2e"
SHA256 = "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
ATTACHMENT = {
    "usageType": "http://example.com/attachment-usage/test",
    "display": {"en-US": "A test attachment"},
    "description": {"en-US": "A test attachment (description)"},
    "contentType": "text/plain; charset=ascii",
    "length": 27,
    "sha2": SHA256,
    "fileUrl": "http://over.there.com/file.txt",
}


def statement(**extra: Any) -> dict[str, Any]:
    """A minimal valid statement plus ``extra`` top-level properties."""
    return {"actor": copy.deepcopy(AGENT), "verb": copy.deepcopy(VERB), "object": copy.deepcopy(ACTIVITY), **extra}


def substatement(**extra: Any) -> dict[str, Any]:
    """A valid SubStatement plus ``extra`` properties."""
    return {"objectType": "SubStatement", "actor": copy.deepcopy(AGENT), "verb": copy.deepcopy(VERB),
            "object": copy.deepcopy(ACTIVITY), **extra}


def interaction(kind: str | None, **extra: Any) -> dict[str, Any]:
    """An Activity object with an interaction definition."""
    definition: dict[str, Any] = {"type": "http://adlnet.gov/expapi/activities/cmi.interaction", **extra}
    if kind is not None:
        definition["interactionType"] = kind
    return {"objectType": "Activity", "id": "http://example.com/q1", "definition": definition}


def reject(data: dict[str, Any], path: str, fragment: str, version: str = "1.0.3") -> XAPIValidationError:
    """Assert ``data`` is rejected at ``path`` with a message containing ``fragment``."""
    with pytest.raises(XAPIValidationError) as info:
        validate(data, version=version)
    message = str(info.value)
    assert message.startswith(f"{path}:") or f"; {path}:" in message, message
    assert fragment in message, message
    assert "pydantic" not in message and "errors.pydantic.dev" not in message, message
    return info.value


def edit(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """A valid statement modified in place by ``change``."""
    data = statement()
    change(data)
    return data


# ------------------------------------------------------------------------------------------------ accepted

ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("minimal", statement()),
    ("activity without objectType", statement(object={"id": "http://example.com/a"})),
    ("agent without objectType", statement(actor={"mbox": "mailto:a@example.com"})),
    ("mbox_sha1sum", statement(actor={"mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"})),
    ("openid", statement(actor={"openid": "http://openid.example.org/12345"})),
    ("account", statement(actor={"account": {"homePage": "http://www.example.com", "name": "xAPI account"}})),
    ("anonymous group", statement(actor={"objectType": "Group", "member": [AGENT]})),
    ("identified group without members", statement(actor={"objectType": "Group", "mbox": "mailto:g@example.com"})),
    ("identified group with members",
     statement(actor={"objectType": "Group", "account": {"homePage": "http://a.example", "name": "team"},
                      "member": [AGENT, {"mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"}]})),
    ("uppercase id", statement(id="AA97B177-9383-4934-8543-0F91A7A02836")),
    ("all top-level properties",
     statement(id=UUID, result={"score": {"scaled": 0.5, "raw": 5, "min": 0, "max": 10}, "success": True,
                                "completion": False, "response": "x", "duration": "PT4H35M59.14S",
                                "extensions": {"http://example.com/ex": {"any": ["json", 1, None]}}},
               context={"registration": UUID, "instructor": AGENT, "revision": "r2", "platform": "web",
                        "language": "en-US", "statement": {"objectType": "StatementRef", "id": UUID},
                        "extensions": {"http://example.com/ex": None}},
               timestamp="2013-05-18T05:32:34.804+00:00", stored="2013-05-18T05:32:34.804Z",
               authority={"objectType": "Agent", "account": {"homePage": "http://lrs.example", "name": "key"}},
               version="1.0.0", attachments=[ATTACHMENT])),
    ("oauth authority group",
     statement(authority={"objectType": "Group", "member": [
         {"account": {"homePage": "http://example.com/xAPI/OAuth/Token", "name": "oauth_consumer_x75db"}},
         {"mbox": "mailto:bob@example.com"}]})),
    ("agent object", statement(object={"objectType": "Agent", "mbox": "mailto:other@example.com"})),
    ("group object", statement(object={"objectType": "Group", "member": [AGENT]})),
    ("statementref object", statement(object={"objectType": "StatementRef", "id": UUID})),
    ("voiding", statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                          object={"objectType": "StatementRef", "id": UUID})),
    ("substatement", statement(object=substatement(timestamp="2031-11-28T15:46:41.609Z"))),
    ("substatement with context revision",
     statement(object=substatement(context={"revision": "1", "platform": "p"}))),
    ("single context activity", statement(context={"contextActivities": {"parent": ACTIVITY}})),
    ("context activity arrays",
     statement(context={"contextActivities": {"parent": [ACTIVITY], "grouping": [ACTIVITY, ACTIVITY],
                                              "category": [], "other": {"id": "http://example.com/o"}}})),
    ("team group", statement(context={"team": {"objectType": "Group", "mbox": "mailto:team@example.com"}})),
    ("extension values of any kind",
     statement(result={"extensions": {"http://example.com/a": None, "http://example.com/b": "",
                                      "http://example.com/c": {}}})),
    ("version 1.0", statement(version="1.0")),
    ("version 1.0.9", statement(version="1.0.9")),
    ("definition with language maps",
     statement(object={"id": "http://example.com/a", "definition": {
         "name": {"en-US": "Name", "und": "x"}, "description": {"en-GB": "Description"},
         "type": "http://adlnet.gov/expapi/activities/course", "moreInfo": "http://example.com/more",
         "extensions": {"http://example.com/ext": 1}}})),
    ("choice", statement(object=interaction("choice", correctResponsesPattern=["golf[,]tetris"],
                                             choices=[{"id": "golf", "description": {"en-US": "Golf"}},
                                                      {"id": "tetris"}]))),
    ("sequencing", statement(object=interaction("sequencing", choices=[{"id": "a"}, {"id": "b"}]))),
    ("likert", statement(object=interaction("likert", scale=[{"id": "likert_0"}, {"id": "likert_1"}]))),
    ("matching", statement(object=interaction("matching", source=[{"id": "a"}], target=[{"id": "a"}]))),
    ("performance", statement(object=interaction("performance", steps=[{"id": "s1"}]))),
    ("fill-in", statement(object=interaction("fill-in", correctResponsesPattern=["Bob's your uncle"]))),
    ("empty correct responses", statement(object=interaction("true-false", correctResponsesPattern=[]))),
    ("other without patterns", statement(object=interaction("other"))),
    ("unicode", statement(verb={"id": "http://example.com/فعل/خواندن", "display": {"fa": "خواندن"}})),
    ("negative score", statement(result={"score": {"scaled": -1, "raw": -5, "min": -10, "max": 0}})),
]


@pytest.mark.parametrize(("name", "data"), ACCEPTED, ids=[name for name, _ in ACCEPTED])
def test_accepted(name: str, data: dict[str, Any]) -> None:
    before = copy.deepcopy(data)
    assert isinstance(validate(data), Statement)
    assert data == before  # validation never modifies its input


# ------------------------------------------------------------------------------------------------ rejected

REJECTED: list[tuple[str, dict[str, Any], str, str]] = [
    # Data 2.2: formatting
    ("unknown property", statement(dummy="x"), "statement.dummy", "not a property allowed"),
    ("key case", statement(Version="1.0.0"), "statement.Version", "not a property allowed"),
    ("null value", statement(result={"response": None}), "statement.result.response", "must not be null"),
    ("null in list", statement(object=interaction("choice", correctResponsesPattern=[None])),
     "statement.object.definition.correctResponsesPattern[0]", "must not be null"),
    ("null language map value", edit(lambda d: d["verb"].update(display={"en-US": None})),
     'statement.verb.display["en-US"]', "must not be null"),
    ("unknown null property", statement(object={**ACTIVITY, "en": None}), "statement.object.en",
     "not a property allowed"),
    ("null objectType", statement(object={**ACTIVITY, "objectType": None}), "statement.object.objectType",
     "must not be null"),
    ("missing actor", edit(lambda d: d.pop("actor")), "statement.actor", "is required"),
    ("missing verb", edit(lambda d: d.pop("verb")), "statement.verb", "is required"),
    ("missing object", edit(lambda d: d.pop("object")), "statement.object", "is required"),
    # Data 2.4.1: id
    ("id not uuid", statement(id="not-a-uuid"), "statement.id", "UUID"),
    ("id too long", statement(id="AA97B177-9383-4934-8543-0F91A7A028368"), "statement.id", "UUID"),
    ("id number", statement(id=12345), "statement.id", "must be a string"),
    # Data 2.4.2: actor
    ("actor objectType lowercase", statement(actor={"objectType": "agent", "mbox": "mailto:a@example.com"}),
     "statement.actor.objectType", "'Agent' or 'Group'"),
    ("actor objectType number", statement(actor={"objectType": 123, "mbox": "mailto:a@example.com"}),
     "statement.actor.objectType", "'Agent' or 'Group'"),
    ("actor name number", statement(actor={"name": 123, "mbox": "mailto:a@example.com"}),
     "statement.actor.name", "must be a string"),
    ("agent without ifi", statement(actor={"name": "nobody"}), "statement.actor", "found none"),
    ("agent with two ifis", statement(actor={"mbox": "mailto:a@example.com", "openid": "http://openid.example/a"}),
     "statement.actor", "found mbox, openid"),
    ("mbox without mailto", statement(actor={"mbox": "a@example.com"}), "statement.actor.mbox", "mailto:"),
    ("mbox not an address", statement(actor={"mbox": "mailto:nobody"}), "statement.actor.mbox", "mailto:"),
    ("sha1 too short", statement(actor={"mbox_sha1sum": "cd9b00a5"}), "statement.actor.mbox_sha1sum", "SHA1"),
    ("sha1 not hex", statement(actor={"mbox_sha1sum": "z" * 40}), "statement.actor.mbox_sha1sum", "SHA1"),
    ("openid without scheme", statement(actor={"openid": "open.id.com/testUser"}), "statement.actor.openid", "IRI"),
    ("account without homePage", statement(actor={"account": {"name": "x"}}),
     "statement.actor.account.homePage", "is required"),
    ("account without name", statement(actor={"account": {"homePage": "http://a.example"}}),
     "statement.actor.account.name", "is required"),
    ("account homePage without scheme", statement(actor={"account": {"homePage": "homePage.com/u", "name": "1"}}),
     "statement.actor.account.homePage", "IRI"),
    ("account empty name", statement(actor={"account": {"homePage": "http://a.example", "name": ""}}),
     "statement.actor.account.name", "must not be empty"),
    ("anonymous group without member", statement(actor={"objectType": "Group", "name": "g"}),
     "statement.actor", "anonymous Group"),
    ("anonymous group with empty member", statement(actor={"objectType": "Group", "member": []}),
     "statement.actor", "non-empty"),
    ("identified group with two ifis",
     statement(actor={"objectType": "Group", "mbox": "mailto:g@example.com", "openid": "http://o.example/g"}),
     "statement.actor", "exactly one IFI"),
    ("nested group",
     statement(actor={"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@example.com"}]}),
     "statement.actor.member[0].objectType", "cannot be nested"),
    ("group member without ifi", statement(actor={"objectType": "Group", "member": [{"name": "x"}]}),
     "statement.actor.member[0]", "found none"),
    ("group without objectType as actor", statement(actor={"member": [AGENT]}),
     "statement.actor.member", "not a property allowed"),
    # Data 2.4.3: verb
    ("verb id without scheme", edit(lambda d: d["verb"].update(id="adlnet.gov/expapi/verbs/attended")),
     "statement.verb.id", "IRI"),
    ("verb id missing", statement(verb={"display": {"en-US": "x"}}), "statement.verb.id", "is required"),
    ("verb display string", edit(lambda d: d["verb"].update(display="attended")),
     "statement.verb.display", "JSON object"),
    ("verb display bad language tag", edit(lambda d: d["verb"].update(display={"a12345678": "x"})),
     "statement.verb.display", "'a12345678' is not an RFC 5646 language tag"),
    ("verb display value number", edit(lambda d: d["verb"].update(display={"en-US": 1})),
     'statement.verb.display["en-US"]', "must be a string"),
    # Data 2.4.4: object
    ("object objectType lowercase", statement(object={"objectType": "activity", "id": "http://a.example"}),
     "statement.object.objectType", "case-sensitive"),
    ("activity id without scheme", statement(object={"id": "example.com/a"}), "statement.object.id", "IRI"),
    ("activity without id", statement(object={"objectType": "Activity"}), "statement.object.id", "is required"),
    ("agent object without objectType", statement(object={"mbox": "mailto:a@example.com"}),
     "statement.object.objectType", "must set objectType"),
    ("group object without objectType", statement(object={"member": [AGENT]}),
     "statement.object.objectType", "must set objectType"),
    ("definition name string", statement(object={"id": "http://a.example", "definition": {"name": "x"}}),
     "statement.object.definition.name", "JSON object"),
    ("definition type without scheme", statement(object={"id": "http://a.example", "definition": {"type": "t"}}),
     "statement.object.definition.type", "IRI"),
    ("definition moreInfo without scheme",
     statement(object={"id": "http://a.example", "definition": {"moreInfo": "example.com"}}),
     "statement.object.definition.moreInfo", "IRI"),
    ("definition extension key not IRI",
     statement(object={"id": "http://a.example", "definition": {"extensions": {"not.valid.com/extension": 1}}}),
     "statement.object.definition.extensions", "'not.valid.com/extension'"),
    ("interactionType unknown", statement(object=interaction("multiple-choice")),
     "statement.object.definition.interactionType", "'true-false'"),
    ("interactionType wrong case", statement(object=interaction("Choice")),
     "statement.object.definition.interactionType", "case-sensitive"),
    ("correctResponsesPattern without interactionType",
     statement(object=interaction(None, correctResponsesPattern=["a"])),
     "statement.object.definition.interactionType", "correctResponsesPattern"),
    ("choices without interactionType", statement(object=interaction(None, choices=[{"id": "a"}])),
     "statement.object.definition.interactionType", "choices"),
    ("correctResponsesPattern string", statement(object=interaction("choice", correctResponsesPattern="a")),
     "statement.object.definition.correctResponsesPattern", "must be an array"),
    ("correctResponsesPattern numbers", statement(object=interaction("numeric", correctResponsesPattern=[4])),
     "statement.object.definition.correctResponsesPattern[0]", "must be a string"),
    ("choices with likert", statement(object=interaction("likert", choices=[{"id": "a"}])),
     "statement.object.definition.choices", "not supported by interactionType 'likert'"),
    ("scale with choice", statement(object=interaction("choice", scale=[{"id": "a"}])),
     "statement.object.definition.scale", "only by likert"),
    ("source with performance", statement(object=interaction("performance", source=[{"id": "a"}])),
     "statement.object.definition.source", "only by matching"),
    ("steps with true-false", statement(object=interaction("true-false", steps=[{"id": "a"}])),
     "statement.object.definition.steps", "only by performance"),
    ("duplicate component ids", statement(object=interaction("choice", choices=[{"id": "a"}, {"id": "a"}])),
     "statement.object.definition.choices[1].id", "duplicate interaction component id 'a'"),
    ("component without id", statement(object=interaction("choice", choices=[{"description": {"en": "x"}}])),
     "statement.object.definition.choices[0].id", "is required"),
    ("component bad language map",
     statement(object=interaction("likert", scale=[{"id": "a", "description": {"a12345678": "x"}}])),
     "statement.object.definition.scale[0].description", "RFC 5646"),
    ("statementref without id", statement(object={"objectType": "StatementRef"}), "statement.object.id",
     "is required"),
    ("statementref id not uuid", statement(object={"objectType": "StatementRef", "id": "abc"}),
     "statement.object.id", "UUID"),
    ("statementref extra property", statement(object={"objectType": "StatementRef", "id": UUID, "verb": VERB}),
     "statement.object.verb", "not a property allowed"),
    # Data 2.4.4.3: SubStatement
    ("substatement with id", statement(object=substatement(id=UUID)), "statement.object.id",
     "not allowed in a SubStatement"),
    ("substatement with stored", statement(object=substatement(stored="2013-05-18T05:32:34.804Z")),
     "statement.object.stored", "not allowed in a SubStatement"),
    ("substatement with version", statement(object=substatement(version="1.0.0")),
     "statement.object.version", "not allowed in a SubStatement"),
    ("substatement with authority", statement(object=substatement(authority=AGENT)),
     "statement.object.authority", "not allowed in a SubStatement"),
    ("nested substatement", statement(object=substatement(object=substatement())),
     "statement.object.object.objectType", "cannot be nested"),
    ("substatement without actor", edit(lambda d: d.update(object=substatement()) or d["object"].pop("actor")),
     "statement.object.actor", "is required"),
    ("substatement lowercase objectType", statement(object={**substatement(), "objectType": "substatement"}),
     "statement.object.objectType", "case-sensitive"),
    ("substatement agent object without objectType",
     statement(object=substatement(object={"mbox": "mailto:a@example.com"})),
     "statement.object.object.objectType", "must set objectType"),
    # Data 2.4.5: result
    ("success string", statement(result={"success": "true"}), "statement.result.success", "boolean"),
    ("completion string", statement(result={"completion": "false"}), "statement.result.completion", "boolean"),
    ("completion number", statement(result={"completion": 1}), "statement.result.completion", "boolean"),
    ("response number", statement(result={"response": 12345}), "statement.result.response", "must be a string"),
    ("duration invalid", statement(result={"duration": "PA1H0M0S"}), "statement.result.duration", "ISO 8601"),
    ("duration weeks combined", statement(result={"duration": "P4W1D"}), "statement.result.duration", "ISO 8601"),
    ("duration number", statement(result={"duration": 12345}), "statement.result.duration", "must be a string"),
    ("score string", statement(result={"score": "100"}), "statement.result.score", "JSON object"),
    ("scaled above 1", statement(result={"score": {"scaled": 1.01}}), "statement.result.score.scaled",
     "between -1 and 1"),
    ("scaled below -1", statement(result={"score": {"scaled": -1.01}}), "statement.result.score.scaled",
     "between -1 and 1"),
    ("scaled string", statement(result={"score": {"scaled": "0.5"}}), "statement.result.score.scaled",
     "must be a number"),
    ("raw boolean", statement(result={"score": {"raw": True}}), "statement.result.score.raw", "must be a number"),
    ("raw above max", statement(result={"score": {"raw": 11, "max": 10}}), "statement.result.score.raw",
     "greater than max"),
    ("raw below min", statement(result={"score": {"raw": -1, "min": 0}}), "statement.result.score.raw",
     "less than min"),
    ("min equals max", statement(result={"score": {"min": 5, "max": 5}}), "statement.result.score.max",
     "greater than min"),
    ("result extension key", statement(result={"extensions": {"example.com/extension/wrong": 1}}),
     "statement.result.extensions", "not an absolute IRI"),
    # Data 2.4.6: context
    ("registration not uuid", statement(context={"registration": "abc"}), "statement.context.registration", "UUID"),
    ("revision with agent object",
     statement(object={"objectType": "Agent", "mbox": "mailto:o@example.com"}, context={"revision": "1"}),
     "statement.context.revision", "object is an Activity"),
    ("platform with statementref object",
     statement(object={"objectType": "StatementRef", "id": UUID}, context={"platform": "web"}),
     "statement.context.platform", "object is an Activity"),
    ("platform with substatement object", statement(object=substatement(), context={"platform": "web"}),
     "statement.context.platform", "object is an Activity"),
    ("substatement revision with group object",
     statement(object=substatement(object={"objectType": "Group", "member": [AGENT]}, context={"revision": "1"})),
     "statement.object.context.revision", "object is an Activity"),
    ("revision number", statement(context={"revision": 1}), "statement.context.revision", "must be a string"),
    ("language invalid", statement(context={"language": "a12345678"}), "statement.context.language", "RFC 5646"),
    ("team agent", statement(context={"team": {"objectType": "Agent", "mbox": "mailto:a@example.com"}}),
     "statement.context.team.objectType", "'Group'"),
    ("instructor without ifi", statement(context={"instructor": {"name": "x"}}),
     "statement.context.instructor", "found none"),
    ("context statement not ref", statement(context={"statement": {"objectType": "StatementRef", "id": "x"}}),
     "statement.context.statement.id", "UUID"),
    ("contextActivities unknown key", statement(context={"contextActivities": {"parents": [ACTIVITY]}}),
     "statement.context.contextActivities.parents", "not a property allowed"),
    ("contextActivities string", statement(context={"contextActivities": {"parent": "http://a.example"}}),
     "statement.context.contextActivities.parent", "must be an array"),
    ("contextActivities single bad activity", statement(context={"contextActivities": {"other": {"id": "x"}}}),
     "statement.context.contextActivities.other.id", "IRI"),
    ("contextActivities bad activity in list",
     statement(context={"contextActivities": {"category": [ACTIVITY, {"id": "x"}]}}),
     "statement.context.contextActivities.category[1].id", "IRI"),
    ("contextAgents in 1.0.3", statement(context={"contextAgents": []}), "statement.context.contextAgents",
     "only allowed in xAPI 2.0"),
    ("contextGroups in 1.0.3", statement(context={"contextGroups": []}), "statement.context.contextGroups",
     "only allowed in xAPI 2.0"),
    # Data 2.4.7 / 2.4.8: timestamp, stored
    ("timestamp invalid", statement(timestamp="01/011/2015"), "statement.timestamp", "ISO 8601"),
    ("timestamp -00:00", statement(timestamp="2008-09-15T15:53:00.601-00:00"), "statement.timestamp", "-00:00"),
    ("timestamp null", statement(timestamp=None), "statement.timestamp", "must not be null"),
    ("stored invalid", statement(stored="yesterday"), "statement.stored", "ISO 8601"),
    # Data 2.4.9: authority
    ("authority identified group",
     statement(authority={"objectType": "Group", "mbox": "mailto:g@example.com", "member": [AGENT, AGENT]}),
     "statement.authority", "anonymous Group of exactly two Agents"),
    ("authority group of one", statement(authority={"objectType": "Group", "member": [AGENT]}),
     "statement.authority", "exactly two Agents"),
    ("authority lowercase objectType", statement(authority={"objectType": "agent", "mbox": "mailto:a@example.com"}),
     "statement.authority.objectType", "'Agent' or 'Group'"),
    # Data 2.4.10: version
    ("version 0.9.9", statement(version="0.9.9"), "statement.version", "1.0.x"),
    ("version 1.1.0", statement(version="1.1.0"), "statement.version", "1.0.x"),
    ("version 2.0.0 in 1.0.3", statement(version="2.0.0"), "statement.version", "1.0.x"),
    ("version number", statement(version=1.0), "statement.version", "must be a string"),
    ("version with newline", statement(version="1.0.3\n"), "statement.version", "1.0.x"),
    # Data 2.4.11: attachments
    ("attachments object", statement(attachments=ATTACHMENT), "statement.attachments", "must be an array"),
    ("attachment usageType without scheme", statement(attachments=[{**ATTACHMENT, "usageType": "example.com/u"}]),
     "statement.attachments[0].usageType", "IRI"),
    ("attachment fileUrl without scheme", statement(attachments=[{**ATTACHMENT, "fileUrl": "over.there.com/f"}]),
     "statement.attachments[0].fileUrl", "IRI"),
    ("attachment without display", statement(attachments=[{k: v for k, v in ATTACHMENT.items() if k != "display"}]),
     "statement.attachments[0].display", "is required"),
    ("attachment display bad tag", statement(attachments=[{**ATTACHMENT, "display": {"a12345678": "x"}}]),
     "statement.attachments[0].display", "RFC 5646"),
    ("attachment length string", statement(attachments=[{**ATTACHMENT, "length": "27"}]),
     "statement.attachments[0].length", "must be an integer"),
    ("attachment length float", statement(attachments=[{**ATTACHMENT, "length": 27.5}]),
     "statement.attachments[0].length", "must be an integer"),
    ("attachment length negative", statement(attachments=[{**ATTACHMENT, "length": -1}]),
     "statement.attachments[0].length", "negative"),
    ("attachment sha2 number", statement(attachments=[{**ATTACHMENT, "sha2": 12345}]),
     "statement.attachments[0].sha2", "must be a string"),
    ("attachment sha2 not hex", statement(attachments=[{**ATTACHMENT, "sha2": "not a hash"}]),
     "statement.attachments[0].sha2", "SHA-2"),
    ("attachment contentType", statement(attachments=[{**ATTACHMENT, "contentType": "plain text"}]),
     "statement.attachments[0].contentType", "Media Type"),
    # Data 2.3.2: voiding
    ("voiding an activity", statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}),
     "statement.object", "must be a StatementRef"),
    ("voiding a substatement", statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                                         object=substatement()),
     "statement.object", "must be a StatementRef"),
]


@pytest.mark.parametrize(("name", "data", "path", "fragment"), REJECTED, ids=[case[0] for case in REJECTED])
def test_rejected(name: str, data: dict[str, Any], path: str, fragment: str) -> None:
    reject(data, path, fragment)


# ------------------------------------------------------------------------------------------------ xAPI 2.0

CONTEXT_AGENT = {"objectType": "contextAgent", "agent": {"mbox": "mailto:p1@example.com"},
                 "relevantTypes": ["https://example.com/types/player"]}
CONTEXT_GROUP = {"objectType": "contextGroup", "group": {"objectType": "Group", "mbox": "mailto:t@example.com"},
                 "relevantTypes": ["https://example.com/types/team"]}


@pytest.mark.parametrize(
    "data",
    [
        statement(context={"contextAgents": [CONTEXT_AGENT], "contextGroups": [CONTEXT_GROUP]}),
        statement(context={"contextAgents": [{"objectType": "contextAgent", "agent": AGENT}]}),
        statement(object=substatement(context={"contextGroups": [CONTEXT_GROUP]})),
        statement(timestamp="2008-09-15T15:53:00.601+00:00"),
        statement(timestamp=None),  # the 2.0 suite sends it; the LRS sets the timestamp
        statement(version="2.0.0"),
        statement(version="1.0.3"),
        statement(result={"duration": "P1DT12H36M0.12567S"}),
    ],
)
def test_accepted_v2(data: dict[str, Any]) -> None:
    assert isinstance(validate(data, version="2.0.0"), Statement)


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        (statement(context={"contextAgents": [{**CONTEXT_AGENT, "objectType": "Should fail"}]}),
         "statement.context.contextAgents[0].objectType", "'contextAgent'"),
        (statement(context={"contextAgents": [{"agent": AGENT}]}),
         "statement.context.contextAgents[0].objectType", "is required"),
        (statement(context={"contextAgents": [{"objectType": "contextAgent", "agent": {"key": "x"}}]}),
         "statement.context.contextAgents[0].agent.key", "not a property allowed"),
        (statement(context={"contextAgents": [{**CONTEXT_AGENT, "relevantTypes": []}]}),
         "statement.context.contextAgents[0].relevantTypes", "empty"),
        (statement(context={"contextAgents": [{**CONTEXT_AGENT, "relevantTypes": ["abc"]}]}),
         "statement.context.contextAgents[0].relevantTypes[0]", "IRI"),
        (statement(context={"contextAgents": [{**CONTEXT_AGENT, "agent": CONTEXT_GROUP["group"]}]}),
         "statement.context.contextAgents[0].agent.objectType", "'Agent'"),
        (statement(context={"contextAgents": CONTEXT_AGENT}),
         "statement.context.contextAgents", "must be an array"),
        (statement(context={"contextGroups": [{**CONTEXT_GROUP, "objectType": "contextgroup"}]}),
         "statement.context.contextGroups[0].objectType", "'contextGroup'"),
        (statement(context={"contextGroups": [{"objectType": "contextGroup", "group": {"key": "x"}}]}),
         "statement.context.contextGroups[0].group.objectType", "is required"),
        (statement(context={"contextGroups": [{**CONTEXT_GROUP, "relevantTypes": []}]}),
         "statement.context.contextGroups[0].relevantTypes", "empty"),
        (statement(object=substatement(context={"contextGroups": [{**CONTEXT_GROUP, "relevantTypes": ["abc"]}]})),
         "statement.object.context.contextGroups[0].relevantTypes[0]", "IRI"),
        (statement(timestamp="2008-09-15T15:53:00.601-00:00"), "statement.timestamp", "-00:00"),
        (statement(timestamp="2008-09-15T15:53:00.601"), "statement.timestamp", "time zone"),
        (statement(object=substatement(timestamp=None)), "statement.object.timestamp", "must not be null"),
        (statement(version="2.1.0"), "statement.version", "1.0.x or 2.0.x"),
        (statement(version="3.0"), "statement.version", "1.0.x or 2.0.x"),
        (statement(dummy="dummy"), "statement.dummy", "not a property allowed"),
    ],
)
def test_rejected_v2(data: dict[str, Any], path: str, fragment: str) -> None:
    reject(data, path, fragment, version="2.0.0")


def test_timestamp_without_offset_is_tolerated_in_1_0_3() -> None:
    # Data 4.5.s1.b4: in 1.0.3 a Timestamp SHOULD* (not MUST) include the time zone.
    validate(statement(timestamp="2013-05-18T05:32:34.804"))


# ------------------------------------------------------------------------------------------------ model shape


def test_model_exposes_typed_objects() -> None:
    sub = substatement(actor={"objectType": "Group", "member": [AGENT]},
                       object={"objectType": "StatementRef", "id": UUID})
    model = validate(statement(context={"contextActivities": {"parent": ACTIVITY}}, object=sub))
    assert isinstance(model.actor, Agent)
    assert isinstance(model.object, SubStatement)
    assert isinstance(model.object.actor, Group) and model.object.actor.is_anonymous
    assert isinstance(model.object.object, StatementRef)
    assert model.context is not None and model.context.contextActivities is not None
    parent = model.context.contextActivities.parent
    assert isinstance(parent, list) and isinstance(parent[0], Activity)


def test_version_argument_is_checked() -> None:
    with pytest.raises(ValueError, match="unsupported xAPI version"):
        validate(statement(), version="0.95")


# ------------------------------------------------------------------------------------------ repeated objects


def test_a_repeated_activity_verb_or_agent_is_validated_once_per_version_and_shared() -> None:
    from lrs.core.xapi import activity, actor, verb

    activity._ACTIVITIES.held.clear()
    verb._VERBS.held.clear()
    actor._AGENTS.held.clear()
    course = {**ACTIVITY, "definition": {"name": {"en-US": "Course"}, "type": "http://example.com/types/course"}}
    first = validate(statement(object=copy.deepcopy(course), context={"contextActivities": {"parent": [course]}}))
    second = validate(statement(object=copy.deepcopy(course)))
    assert first.context is not None and first.context.contextActivities is not None
    assert second.object is first.object is first.context.contextActivities.parent[0]  # one validation, shared
    assert second.verb is first.verb and second.actor is first.actor
    validate(statement(object=copy.deepcopy(course)), version="2.0.0")  # the rules differ by version: held apart
    assert len(activity._ACTIVITIES.held) == len(verb._VERBS.held) == len(actor._AGENTS.held) == 2


def test_an_invalid_activity_fails_every_time_even_beside_a_valid_one_with_its_id() -> None:
    from lrs.core.xapi import activity

    activity._ACTIVITIES.held.clear()
    validate(statement(object=interaction("choice", choices=[{"id": "a"}])))
    bad = interaction("choice", choices=[{"id": "a"}, {"id": "a"}])
    messages = {str(reject(statement(object=copy.deepcopy(bad)), "statement.object.definition.choices[1].id",
                           "duplicate")) for _ in range(2)}
    assert len(messages) == 1 and len(activity._ACTIVITIES.held) == 1  # only the valid one held


def test_the_held_repeats_are_bounded_the_oldest_going_first() -> None:
    from lrs.core.xapi import activity
    from lrs.core.xapi.common import REPEATS_HELD

    activity._ACTIVITIES.held.clear()
    for i in range(REPEATS_HELD + 5):
        validate(statement(object={**ACTIVITY, "id": f"http://example.com/a/{i}"}))
    held = [key[1] for key in activity._ACTIVITIES.held]
    assert len(held) == REPEATS_HELD
    assert b"/a/4\"" not in held[0] and b"/a/5\"" in held[0] and b"/a/%d\"" % (REPEATS_HELD + 4) in held[-1]
