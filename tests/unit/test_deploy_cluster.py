"""The 3-broker, 2-replica production example (docker-compose.yml + deploy/kafka-replicated.yml +
deploy/clickhouse-replicated.yml) hangs together: parsed and cross-checked without a Docker engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from lrs.core.config import Settings
from lrs.core.store.migrate import for_cluster

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "docker-compose.yml", ROOT / "deploy" / "kafka-replicated.yml",
         ROOT / "deploy" / "clickhouse-replicated.yml"]
CLUSTER_XML = ROOT / "deploy" / "clickhouse" / "cluster" / "cluster.xml"
KEEPER_XML = ROOT / "deploy" / "clickhouse" / "keeper" / "keeper.xml"


def _merge(base: object, overlay: object) -> object:
    """Compose's merge of an overlay file: mappings merged key by key, volume lists appended."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(overlay, list):
        return base + [item for item in overlay if item not in base]
    return overlay


@pytest.fixture(scope="module")
def compose() -> dict:
    merged: dict = {}
    for path in FILES:
        merged = _merge(merged, yaml.safe_load(path.read_text(encoding="utf-8")))
    return merged


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _defaults(value: str) -> str:
    """Compose's ${NAME:?err} and ${NAME:-default} with a stand-in value."""
    import re

    return re.sub(r"\$\{[A-Z_]+(?::?-([^}]*)|:?\?[^}]*)?\}", lambda m: m.group(1) or "secret", value)


def test_three_brokers_two_replicas_three_keepers(compose: dict) -> None:
    services = compose["services"]
    assert {"kafka", "kafka-2", "kafka-3", "clickhouse", "clickhouse-2", "keeper-1", "keeper-2", "keeper-3"} <= set(
        services)
    for name in ("clickhouse", "clickhouse-2"):
        mounts = [v.split(":")[1] for v in services[name]["volumes"] if isinstance(v, str)]
        assert "/etc/clickhouse-server/config.d/cluster.xml" in mounts, name
        assert "/etc/clickhouse-server/config.d/lrs.xml" in mounts, name
        assert _env(services[name])["CLICKHOUSE_REPLICA"] == name  # its {replica} macro and interserver host
        assert {f"keeper-{i}" for i in (1, 2, 3)} <= set(services[name]["depends_on"])
    data = [v.split(":")[0] for n in ("clickhouse", "clickhouse-2") for v in services[n]["volumes"]
            if v.endswith(":/var/lib/clickhouse")]
    assert len(set(data)) == 2, "each replica has its own data volume"
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", []) if not v.startswith(".")}
    assert named <= set(compose["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (ROOT / volume.split(":")[0]).exists(), volume


def test_cluster_config_names_the_services(compose: dict) -> None:
    services = compose["services"]
    root = ET.parse(CLUSTER_XML).getroot()
    clusters = list(root.find("remote_servers"))
    assert len(clusters) == 1
    shard = clusters[0].find("shard")
    assert shard.findtext("internal_replication") == "true"
    replicas = [(r.findtext("host"), r.findtext("port")) for r in shard.findall("replica")]
    assert replicas == [("clickhouse", "9000"), ("clickhouse-2", "9000")]
    keepers = [(n.findtext("host"), n.findtext("port")) for n in root.find("zookeeper")]
    assert keepers == [(f"keeper-{i}", "9181") for i in (1, 2, 3)]
    assert root.find("macros/replica").get("from_env") == "CLICKHOUSE_REPLICA"
    assert root.find("distributed_ddl/path") is not None

    keeper = ET.parse(KEEPER_XML).getroot().find("keeper_server")
    raft = [(s.findtext("id"), s.findtext("hostname")) for s in keeper.find("raft_configuration")]
    assert raft == [(str(i), f"keeper-{i}") for i in (1, 2, 3)]
    assert keeper.findtext("tcp_port") == "9181"
    assert sorted(_env(services[f"keeper-{i}"])["KEEPER_SERVER_ID"] for i in (1, 2, 3)) == ["1", "2", "3"]

    for name in ("migrate", "lrs", "worker"):
        env = {k: _defaults(v) for k, v in _env(services[name]).items()}
        settings = Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("LRS_")})
        assert settings.clickhouse_cluster == clusters[0].tag, name
        dsn = urlparse(settings.clickhouse_url)
        assert (dsn.hostname, dsn.port) == ("clickhouse", 9000) and settings.clickhouse_database == "lrs"
        assert parse_qs(dsn.query)["alt_hosts"] == ["clickhouse-2:9000"], name
        assert settings.kafka_bootstrap.count(",") == 2 and settings.topic_replication == 3, name
    assert services["migrate"]["depends_on"]["clickhouse-2"] == {"condition": "service_healthy"}
    # What migrate runs there: every table replicated in that cluster.
    out = for_cluster("CREATE TABLE t (a String) ENGINE = MergeTree() ORDER BY a", clusters[0].tag, "lrs")
    assert "ON CLUSTER `lrs`" in out and "ReplicatedMergeTree('/clickhouse/tables/{shard}/lrs/t', '{replica}')" in out


def _has_compose_plugin() -> bool:
    docker = shutil.which("docker")
    return bool(docker) and subprocess.run([docker, "compose", "version"], capture_output=True,
                                           timeout=30).returncode == 0


@pytest.mark.skipif(not _has_compose_plugin(), reason="docker compose plugin not installed")
def test_docker_compose_accepts_the_overlays() -> None:
    env = {**os.environ, **{k: "x" for k in ("CLICKHOUSE_PASSWORD", "GRAFANA_CLICKHOUSE_PASSWORD",
                                             "GRAFANA_ADMIN_PASSWORD", "CLICKHOUSE_ADMIN_PASSWORD")}}
    args = [a for f in FILES for a in ("-f", str(f))]
    done = subprocess.run(["docker", "compose", *args, "config", "-q"], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
