"""Topic definitions from ``schemas/topics.yaml`` and their creation."""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from lrs.core.config import Settings
from lrs.core.kafka.security import kafka_options
from schemas import schema_path


@dataclass(frozen=True)
class TopicSpec:
    """A topic the pipeline needs."""

    name: str
    partitions: int
    replication: int
    config: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics declared in ``schemas/topics.yaml`` with names and sizes resolved from settings."""
    doc = yaml.safe_load(schema_path("topics.yaml").read_text(encoding="utf-8"))
    # Every *_topic setting can be named in the file as {setting_name}; so can the group (Faust's leader topic).
    names = {name: getattr(settings, name) for name in type(settings).model_fields if name.endswith("_topic")}
    names["worker_app_id"] = settings.worker_app_id
    return [
        TopicSpec(
            name=entry["name"].format(**names),
            partitions=int(entry.get("partitions", settings.topic_partitions)),
            replication=int(entry.get("replication", settings.topic_replication)),
            config={k: str(v) for k, v in (entry.get("config") or {}).items()},
        )
        for entry in doc["topics"]
    ]


def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics (fixed partition counts, before any worker starts); return those created."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="lrs-migrate",
                             request_timeout_ms=10_000, **kafka_options(settings))
    try:
        existing = set(admin.list_topics())
        created = []
        for spec in topic_specs(settings):
            if spec.name in existing:
                continue
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, spec.replication, topic_configs=spec.config)])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another process created it between list and create
        return created
    finally:
        admin.close()
