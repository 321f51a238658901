"""Faust's leader election needs its topic: `lrs migrate` creates it (the workers never declare topics)."""

from __future__ import annotations

from lrs.core.config import Settings
from lrs.core.kafka.topics import topic_specs
from streams.app import create_app


def test_migrate_creates_fausts_leader_topic_for_the_group() -> None:
    settings = Settings(worker_app_id="group-x", topic_partitions=6, topic_replication=1)
    app = create_app(settings)
    assert not app.conf.topic_allow_declare
    specs = {spec.name: spec for spec in topic_specs(settings)}
    leader = specs[app._leader_assignor._leader_topic_name]  # the name Faust's LeaderAssignor subscribes to
    assert leader.name == "group-x-__assignor-__leader"
    assert leader.partitions == 1 and leader.replication == 1
