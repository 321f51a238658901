"""Faust's leader election works on the real broker: exactly one worker of the group holds the leader topic's
partition, so the group-wide timers (`@app.timer(..., on_leader=True)`) run on one worker, not on none."""

from __future__ import annotations

import pytest
from kafka.admin import KafkaAdminClient

from tests.support import Pipeline, wait_until

pytestmark = pytest.mark.integration


def _leaders(pipeline: Pipeline) -> list[str]:
    """Members of the workers' group assigned the leader topic (Faust's LeaderAssignor)."""
    group = pipeline.settings.worker_app_id
    leader_topic = f"{group}-__assignor-__leader"
    admin = KafkaAdminClient(bootstrap_servers=pipeline.settings.kafka_bootstrap, client_id="test-leader")
    try:
        members = admin.describe_groups([group])[group].get("members") or []
    finally:
        admin.close()
    return [str(m.get("member_id")) for m in members if leader_topic in repr(m.get("member_assignment"))]


def test_exactly_one_worker_is_the_leader(pipeline: Pipeline) -> None:
    leaders = wait_until(lambda: _leaders(pipeline), 60, interval=1, what="a worker assigned the leader topic")
    assert len(leaders) == 1, leaders
