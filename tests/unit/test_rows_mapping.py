"""Course mapping, raw rows and statement-query parameters (pure functions, no services)."""

from __future__ import annotations

import orjson
import pytest
from kafka.partitioner import DefaultPartitioner

from lrs.core.kafka.envelope import (
    Envelope,
    PoisonMessage,
    decode_statements,
    encode,
    encode_statements,
    group_request,
)
from lrs.service.errors import XAPIError
from lrs.service.statements.formats import apply_format
from lrs.service.statements.query import parse_query
from streams.mapping import COURSE_TYPE, map_course_module
from streams.rows import COL, statement_row

MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"


def _act(aid: str, kind: str | None = None) -> dict:
    return {"id": aid, **({"definition": {"type": kind}} if kind else {})}


def _st(obj: dict, parent=None, grouping=None) -> dict:
    ctx = {"contextActivities": {k: v for k, v in (("parent", parent), ("grouping", grouping)) if v is not None}}
    return {"id": "00000000-0000-4000-8000-000000000001", "actor": {"mbox": "mailto:a@b.c"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}, "object": obj, "context": ctx,
            "stored": "2026-01-01T00:00:00Z"}


def test_course_is_typed_activity_first() -> None:
    st = _st(_act("q1"), parent=[_act("m1", MODULE_TYPE)], grouping=[_act("other"), _act("c1", COURSE_TYPE)])
    assert map_course_module(st) == ("c1", "m1")


def test_course_falls_back_to_grouping_then_parent() -> None:
    assert map_course_module(_st(_act("x"), parent=[_act("p")], grouping=[_act("g")])) == ("g", "")
    assert map_course_module(_st(_act("x"), parent=[_act("p")])) == ("p", "")
    assert map_course_module(_st(_act("c", COURSE_TYPE))) == ("c", "")


def test_module_is_the_object_when_typed() -> None:
    st = _st(_act("m2", MODULE_TYPE), parent=[_act("c", COURSE_TYPE)])
    assert map_course_module(st) == ("c", "m2")


def test_single_context_activity_object_is_accepted() -> None:
    st = _st(_act("q"), parent=_act("m", "http://adlnet.gov/expapi/activities/lesson"), grouping=_act("c"))
    assert map_course_module(st) == ("c", "m")


def test_row_related_agents_and_activities() -> None:
    st = _st(_act("q1"), parent=[_act("m1")])
    st["context"]["instructor"] = {"mbox": "mailto:teacher@b.c"}
    row = statement_row(Envelope("t", st, "key1"))
    assert row[COL["agents"]] == ["mbox:mailto:a@b.c"]
    assert "mbox:mailto:teacher@b.c" in row[COL["related_agents"]]
    assert row[COL["related_activities"]] == ["q1", "m1"]
    assert row[COL["client_key"]] == "key1"
    assert len(row) == len(COL)


@pytest.mark.parametrize("value", [b"", b"{nope", b'{"v": 99}', b'{"v": 1, "tenant": "t"}'])
def test_poison_messages_are_named(value: bytes) -> None:
    with pytest.raises(PoisonMessage):
        decode_statements(value)


def test_envelope_round_trip() -> None:
    env = Envelope("t", {"id": "x"}, "k")
    assert decode_statements(encode(env)) == [env]
    grouped = encode_statements("t", "k", [orjson.dumps({"id": "x"}), orjson.dumps({"id": "y"})])
    assert decode_statements(grouped) == [env, Envelope("t", {"id": "y"}, "k")]
    with pytest.raises(PoisonMessage):
        decode_statements(encode_statements("t", "k", []))


def test_the_lrs_check_travels_with_the_statements() -> None:
    # Only a message that says so counts as checked: others (older LRS versions, other publishers) are checked
    # against the whole history by the sink.
    checked = encode_statements("t", "k", [orjson.dumps({"id": "x"})], checked=True)
    assert decode_statements(checked) == [Envelope("t", {"id": "x"}, "k", checked=True)]
    assert decode_statements(encode(Envelope("t", {"id": "x"}, "k", checked=True)))[0].checked
    assert not decode_statements(encode_statements("t", "k", [orjson.dumps({"id": "x"})]))[0].checked
    assert b"checked" not in encode(Envelope("t", {"id": "x"}, "k"))


def test_a_request_travels_as_consecutive_runs_each_on_its_first_keys_partition() -> None:
    # A request is one message when it fits (atomic by itself, no transaction); a larger one is cut into runs of the
    # request's order, each on the partition Kafka's default partitioner picks for its first statement's key.
    partitions = [0, 1, 2, 3, 4, 5]
    keyed = [(f"t|mbox:mailto:l{i}@x".encode(), {"id": str(i), "pad": "x" * 100}) for i in range(200)]
    expected = {key: DefaultPartitioner().partition("t", None, key, None, key, _Cluster(partitions))
                for key, _ in keyed}

    def statements(runs: list[bytes]) -> list[dict]:
        return orjson.loads(b"[" + b",".join(runs) + b"]")

    [(partition, key, runs)] = group_request(keyed[:10], partitions)
    assert (partition, key, statements(runs)) == (expected[keyed[0][0]], keyed[0][0], [s for _, s in keyed[:10]])
    # 2,000 bytes: runs are too big, statements are packed one by one; 8,000: runs of 32 packed two by two.
    for limit, per_message in ((2000, range(2, 18)), (8000, range(64, 65))):
        groups = group_request(keyed, partitions, max_bytes=limit)
        assert all(sum(len(b) + 1 for b in runs) <= limit for _, _, runs in groups)
        assert {len(statements(runs)) for _, _, runs in groups[:-1]} <= set(per_message)
        assert [int(s["id"]) for _, _, runs in groups for s in statements(runs)] == list(range(200))
        for partition, key, runs in groups:
            first = statements(runs)[0]["id"]
            assert key == keyed[int(first)][0] and partition == expected[key]
        # Each statement's bytes are those of serializing it alone (the sink stores them as they are).
        assert b",".join(orjson.dumps(s) for _, s in keyed) == b",".join(b for _, _, runs in groups for b in runs)
    big = [(b"t|a", {"id": "small"}), (b"t|a", {"id": "big", "pad": "x" * 5000}), (b"t|a", {"id": "after"})]
    assert [len(statements(runs)) for _, _, runs in group_request(big, partitions, max_bytes=2000)] == [1, 1, 1]
    # A message holds runs of several statements, up to the limit.
    many = [(b"t|a", {"id": str(i)}) for i in range(100)]
    assert [len(statements(runs)) for _, _, runs in group_request(many, partitions)] == [100]


class _Cluster:
    """Just what DefaultPartitioner asks of cluster metadata."""

    def __init__(self, partitions: list[int]) -> None:
        self.partitions = partitions

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, _: str) -> set[int]:
        return set(self.partitions)

    def available_partitions_for_topic(self, _: str) -> set[int]:
        return set(self.partitions)


@pytest.mark.parametrize("params", [{"limit": "-1"}, {"since": "yesterday"}, {"agent": "{}"}, {"nope": "1"},
                                    {"format": "pretty"}, {"ascending": "yes"}, {"registration": "x"}])
def test_bad_query_parameters_are_400(params: dict) -> None:
    with pytest.raises(XAPIError) as err:
        parse_query(params, tenant="t", client_key="", version="1.0.3")
    assert err.value.status == 400


def test_formats() -> None:
    st = _st({"id": "q", "definition": {"name": {"en-US": "Quiz", "fr-FR": "Quiz FR"}}})
    st["verb"]["display"] = {"en-US": "saw", "de-DE": "sah"}
    assert apply_format(st, "ids")["object"] == {"id": "q"}
    assert apply_format(st, "ids")["verb"] == {"id": st["verb"]["id"]}
    canonical = apply_format(st, "canonical", "de-DE, en;q=0.5")
    assert canonical["verb"]["display"] == {"de-DE": "sah"}
    assert canonical["object"]["definition"]["name"] == {"en-US": "Quiz"}
