"""The production stack (docker-compose.yml, Dockerfile, deploy/ and Grafana provisioning) hangs together.

No Docker engine is needed: the files are parsed and cross-checked against each other, the repository and
``lrs.core.config.Settings``. If the ``docker compose`` plugin is installed, its own validation runs too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from lrs.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
PROVISIONING = ROOT / "dashboards" / "provisioning"
GRAFANA_USERS_FILE = ROOT / "deploy" / "clickhouse" / "users.d" / "grafana.xml"

SERVICES = {"kafka", "clickhouse", "migrate", "lrs", "lb", "worker", "prometheus", "grafana"}
PROJECT_SERVICES = {"migrate", "lrs", "worker"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate_defaults(value: str) -> str:
    """``value`` with Compose variables replaced by their defaults (required ones by a placeholder)."""
    def replace(match: re.Match[str]) -> str:
        op = match.group("op") or ""
        return match.group("arg") if op.endswith("-") else "set-in-env"

    return _VARIABLE.sub(replace, value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    """A service's environment as a mapping, whichever of the two Compose forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def published_ports(service: dict) -> list[tuple[str | None, str]]:
    """(host port or None, container port) for every ``ports`` entry."""
    result = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            result.append((None if published is None else str(published), str(entry["target"])))
            continue
        spec = interpolate_defaults(str(entry)).split("/", 1)[0]
        parts = spec.split(":")
        if len(parts) == 1:
            result.append((None, parts[0]))  # container port only: Docker picks a random host port
        else:
            result.append((parts[-2], parts[-1]))  # [ip:]host:container
    return result


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(local source, container target) for every bind mount of a service."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            if entry.get("type") == "bind":
                mounts.append((entry["source"], entry["target"]))
            continue
        source, _, rest = str(entry).partition(":")
        if source.startswith((".", "/", "~")):
            mounts.append((source, rest.split(":", 1)[0]))
    return mounts


def mount_target(service: dict, local: str) -> str:
    """Where the local path ``local`` (relative to the repo) is mounted in ``service``."""
    for source, target in bind_mounts(service):
        if (ROOT / source).resolve() == (ROOT / local).resolve():
            return target
    raise AssertionError(f"{local} is not bind-mounted")


def depends_on(service: dict) -> dict[str, dict]:
    deps = service.get("depends_on") or {}
    assert isinstance(deps, dict), "depends_on must use the long form with a condition"
    return deps


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def datasources() -> dict[str, dict]:
    """Provisioned Grafana data sources by uid."""
    found: dict[str, dict] = {}
    for path in sorted((PROVISIONING / "datasources").glob("*.y*ml")):
        doc = load_yaml(path)
        assert doc.get("apiVersion") == 1, path
        for source in doc["datasources"]:
            assert source["uid"] not in found, f"duplicate data source uid {source['uid']}"
            found[source["uid"]] = source
    return found


# --- compose structure -----------------------------------------------------------------------------------


def test_compose_spec_form_and_services(compose: dict, services: dict) -> None:
    assert "version" not in compose, "the Compose spec has no version key"
    assert set(services) >= SERVICES


def test_every_long_running_service_has_a_healthcheck(services: dict) -> None:
    for name, service in services.items():
        if name == "migrate":
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), f"{name} disables its healthcheck"
        test = check["test"]
        assert test and test not in (["NONE"], "NONE"), f"{name} healthcheck has no test"


def test_every_service_has_cpu_and_memory_limits(services: dict) -> None:
    """A runaway service (a ClickHouse merge, a leaking worker) cannot starve the others on a shared host."""
    for name, service in services.items():
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert float(limits.get("cpus", 0)) > 0, f"{name} has no CPU limit"
        assert re.fullmatch(r"[0-9]+[mg]", str(limits.get("memory", ""))), f"{name} has no memory limit"


def test_grafana_plugin_version_is_pinned(services: dict) -> None:
    plugins = services["grafana"]["environment"]["GF_PLUGINS_PREINSTALL_SYNC"]
    for plugin in plugins.split(","):
        assert re.fullmatch(r"[a-z0-9-]+@[0-9]+\.[0-9]+\.[0-9]+", plugin.strip()), plugin


def test_depends_on_waits_for_health_or_completion(services: dict) -> None:
    for name, service in services.items():
        for dependency, spec in depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert spec.get("condition") in CONDITIONS - {"service_started"}, f"{name} -> {dependency}"
            if spec["condition"] == "service_healthy":
                assert services[dependency].get("healthcheck"), f"{dependency} cannot become healthy"

    def condition(service: str, dependency: str) -> str:
        return depends_on(services[service])[dependency]["condition"]

    assert condition("migrate", "kafka") == "service_healthy"
    assert condition("migrate", "clickhouse") == "service_healthy"
    for name in ("lrs", "worker"):
        assert condition(name, "migrate") == "service_completed_successfully"
    assert condition("grafana", "clickhouse") == "service_healthy"
    assert condition("grafana", "prometheus") == "service_healthy"


def test_project_services_run_the_project_image_and_cli(services: dict) -> None:
    commands = {"migrate": ["lrs", "migrate"], "lrs": ["lrs", "serve"], "worker": ["lrs", "worker"]}
    for name, command in commands.items():
        service = services[name]
        build = service.get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        assert context is not None and (ROOT / context).resolve() == ROOT, f"{name} must build this repo"
        assert (ROOT / "Dockerfile").is_file()
        actual = service["command"]
        assert (actual.split() if isinstance(actual, str) else actual) == command, name
    assert services["migrate"].get("restart", "no") == "no", "migrate runs once"


def test_lrs_is_published_through_the_load_balancer(services: dict) -> None:
    lrs = services["lrs"]
    port = environment(lrs).get("LRS_HTTP_PORT", str(Settings.model_fields["http_port"].default))
    # `--scale lrs=N`: no fixed host port and no container name on the LRS; `lb` publishes 8080 for all.
    assert published_ports(lrs) == [] and "container_name" not in lrs
    assert ("8080", "8080") in published_ports(services["lb"])
    nginx = (ROOT / "deploy" / "lb" / "nginx.conf").read_text(encoding="utf-8")
    assert f"server lrs:{port} resolve;" in nginx and "resolver 127.0.0.11" in nginx
    assert environment(lrs).get("LRS_HTTP_HOST") == "0.0.0.0", "the LRS must listen beyond the container"
    check = " ".join(lrs["healthcheck"]["test"])
    assert f":{port}/xapi/about" in check
    # Metrics name tenants: their port listens in the Compose network for Prometheus and is never published.
    metrics_port = interpolate_defaults(environment(lrs)["LRS_METRICS_PORT"])
    assert metrics_port != port and all(target != metrics_port for _, target in published_ports(lrs))


def test_worker_scales(services: dict) -> None:
    worker = services["worker"]
    assert "container_name" not in worker, "a fixed container name prevents --scale"
    assert all(host is None for host, _ in published_ports(worker)), "a fixed host port prevents --scale"
    assert "hostname" not in worker
    assert "9100" in interpolate_defaults(environment(worker)["LRS_WORKER_METRICS_PORT"])


def test_bind_mounted_paths_exist(services: dict) -> None:
    for name, service in services.items():
        for source, _ in bind_mounts(service):
            assert not source.startswith(("/", "~")), f"{name} mounts a host path outside the repo: {source}"
            assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"


def test_project_env_vars_are_settings_fields(services: dict) -> None:
    fields = set(Settings.model_fields)
    for name in PROJECT_SERVICES:
        env = environment(services[name])
        lrs_vars = [var for var in env if var.startswith("LRS_")]
        assert lrs_vars, f"{name} has no LRS_ settings"
        for var in lrs_vars:
            assert var.removeprefix("LRS_").lower() in fields, f"{name}: {var} is not a Settings field"
        # They talk to the in-network services, not to the embedded local stack's defaults.
        assert env["LRS_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert "@clickhouse:9000/" in env["LRS_CLICKHOUSE_URL"]


def test_project_env_builds_valid_settings(services: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("LRS_"):
            monkeypatch.delenv(var)
    for name, value in environment(services["worker"]).items():
        monkeypatch.setenv(name, interpolate_defaults(value))
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.clickhouse_database == "lrs"
    assert settings.worker_metrics_port == 9100


# --- Kafka and ClickHouse --------------------------------------------------------------------------------


def test_kafka_durability_settings(services: dict) -> None:
    env = environment(services["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
    assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) <= int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"])
    assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 1, "a single broker cannot hold 3 replicas"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_LOG_DIRS"] in {target for _, target in _named_volumes(services["kafka"])}
    # The broker accepts the largest message the statements topic allows.
    topics = load_yaml(ROOT / "schemas" / "topics.yaml")["topics"]
    largest = max(int((t.get("config") or {}).get("max.message.bytes", 0)) for t in topics)
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) >= largest
    assert "kafka-broker-api-versions.sh" in " ".join(services["kafka"]["healthcheck"]["test"])


def _named_volumes(service: dict) -> list[tuple[str, str]]:
    named = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, str) and not entry.startswith((".", "/", "~")):
            source, _, rest = entry.partition(":")
            named.append((source, rest.split(":", 1)[0]))
    return named


def test_stateful_services_keep_data_in_declared_volumes(compose: dict, services: dict) -> None:
    declared = set(compose.get("volumes") or {})
    for name in ("kafka", "clickhouse", "prometheus", "grafana"):
        volumes = _named_volumes(services[name])
        assert volumes, f"{name} has no named volume"
        assert {source for source, _ in volumes} <= declared


def test_clickhouse_users(services: dict) -> None:
    clickhouse = services["clickhouse"]
    env = environment(clickhouse)
    assert int(clickhouse["ulimits"]["nofile"]["soft"]) >= 262144
    assert mount_target(clickhouse, "deploy/clickhouse/users.d/grafana.xml").startswith(
        "/etc/clickhouse-server/users.d/")
    # The application user the image's entrypoint creates is the one in the project's DSN.
    dsn = environment(services["lrs"])["LRS_CLICKHOUSE_URL"]
    assert dsn.startswith(f"clickhouse://{env['CLICKHOUSE_USER']}:")

    root = ET.parse(GRAFANA_USERS_FILE).getroot()
    user = root.find("users/grafana")
    assert user is not None
    profile = root.find(f"profiles/{user.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") == "1"
    assert profile.find("constraints/max_execution_time/changeable_in_readonly") is not None
    password_var = user.find("password").get("from_env")
    assert password_var in env, "ClickHouse must receive the grafana password it reads from_env"
    assert password_var in environment(services["grafana"])
    grants = [q.text for q in user.findall("grants/query")]
    assert "GRANT SELECT ON lrs.*" in grants
    assert not any(re.search(r"\b(INSERT|ALTER|DROP|CREATE|ALL)\b", g) for g in grants if g.startswith("GRANT"))

    for path in (ROOT / "deploy" / "clickhouse").rglob("*.xml"):
        assert ET.parse(path).getroot().tag == "clickhouse", path


# --- Prometheus ------------------------------------------------------------------------------------------


def test_prometheus_scrapes_lrs_and_every_worker(services: dict) -> None:
    prometheus = services["prometheus"]
    assert mount_target(prometheus, "deploy/prometheus/prometheus.yml") == "/etc/prometheus/prometheus.yml"
    jobs = {job["job_name"]: job for job in load_yaml(PROMETHEUS_FILE)["scrape_configs"]}

    metrics_port = int(interpolate_defaults(environment(services["lrs"])["LRS_METRICS_PORT"]))
    (lrs_dns,) = jobs["lrs"]["dns_sd_configs"]  # every replica of `--scale lrs=N`
    assert lrs_dns.get("type", "SRV") == "A" and set(lrs_dns["names"]) & {"lrs", "tasks.lrs"}
    assert lrs_dns["port"] == metrics_port, "the LRS's own metrics port, never the public xAPI port"
    assert jobs["lrs"].get("metrics_path", "/metrics") == "/metrics"

    worker_port = int(interpolate_defaults(environment(services["worker"])["LRS_WORKER_METRICS_PORT"]))
    (dns,) = jobs["worker"]["dns_sd_configs"]
    assert dns.get("type", "SRV") == "A"
    assert set(dns["names"]) & {"worker", "tasks.worker"}
    assert dns["port"] == worker_port
    assert jobs["worker"].get("metrics_path", "/metrics") == "/metrics"


# --- Grafana ---------------------------------------------------------------------------------------------


def test_grafana_provisioning_files_parse_and_are_mounted(services: dict) -> None:
    grafana = services["grafana"]
    assert mount_target(grafana, "dashboards/provisioning") == "/etc/grafana/provisioning"
    for path in PROVISIONING.rglob("*.y*ml"):
        assert isinstance(load_yaml(path), dict), path
    env = environment(grafana)
    plugins = env.get("GF_PLUGINS_PREINSTALL_SYNC", "") + "," + env.get("GF_INSTALL_PLUGINS", "")
    assert "grafana-clickhouse-datasource" in plugins


def test_grafana_datasources() -> None:
    sources = datasources()
    clickhouse = sources["clickhouse"]
    assert clickhouse["type"] == "grafana-clickhouse-datasource"
    data = clickhouse["jsonData"]
    assert (data["host"], int(data["port"]), data["protocol"]) == ("clickhouse", 9000, "native")
    assert data["defaultDatabase"] == "lrs"
    assert data["username"] == "grafana"
    assert ET.parse(GRAFANA_USERS_FILE).getroot().find(f"users/{data['username']}") is not None
    assert "${GRAFANA_CLICKHOUSE_PASSWORD}" in clickhouse["secureJsonData"]["password"]

    prometheus = sources["prometheus"]
    assert prometheus["type"] == "prometheus"
    assert prometheus["url"] == "http://prometheus:9090"
    assert sum(bool(s.get("isDefault")) for s in sources.values()) <= 1


def test_dashboard_provider_points_at_the_mounted_dashboards(services: dict) -> None:
    doc = load_yaml(PROVISIONING / "dashboards" / "provider.yaml")
    assert doc.get("apiVersion") == 1
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == mount_target(services["grafana"], "dashboards/json")


# --- image -----------------------------------------------------------------------------------------------


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
    assert stages and all(stage.startswith("python:3.11-slim") for stage in stages)
    assert "pip install ." in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users and users[-1] not in {"root", "0"}, "the image must run as a non-root user"
    assert re.findall(r"^CMD\s+(.+)$", text, flags=re.M)[-1].strip() == '["lrs", "serve"]'
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", text, flags=re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for needed in ("pyproject.toml", "README.md", "lrs", "streams", "schemas"):
        assert needed in ignored or f"!{needed}" in ignored or f"!{needed}/" in ignored, needed


# --- optional: Docker's own validation -------------------------------------------------------------------


def _has_compose_plugin() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        return subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(not _has_compose_plugin(), reason="docker compose plugin not installed")
def test_docker_compose_config_is_valid() -> None:
    env = {**os.environ, "CLICKHOUSE_PASSWORD": "x" * 24, "GRAFANA_CLICKHOUSE_PASSWORD": "y" * 24,
           "GRAFANA_ADMIN_PASSWORD": "z" * 24}
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


REPLICATED_OVERLAY = ROOT / "deploy" / "kafka-replicated.yml"


def _merge(base: object, override: object) -> object:
    """Compose's merge of an override file, for the mapping keys used here (mappings merge, the rest replaces)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


def test_replicated_kafka_overlay_makes_acknowledged_writes_durable(compose: dict) -> None:
    """With the overlay, acks=all means: on at least two of three brokers, or refused."""
    merged = _merge(compose, load_yaml(REPLICATED_OVERLAY))
    brokers = {name: svc for name, svc in merged["services"].items() if name.startswith("kafka")}
    assert set(brokers) == {"kafka", "kafka-2", "kafka-3"}
    envs = {name: {k: interpolate_defaults(str(v)) for k, v in svc["environment"].items()}
            for name, svc in brokers.items()}
    assert sorted(int(env["KAFKA_NODE_ID"]) for env in envs.values()) == [1, 2, 3]
    for name, env in envs.items():
        voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        assert sorted(v.split("@")[1] for v in voters) == ["kafka-2:9093", "kafka-3:9093", "kafka:9093"], name
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == 3
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == 2
        assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 3
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert env["CLUSTER_ID"] == envs["kafka"]["CLUSTER_ID"], "one cluster"
        assert "healthcheck" in brokers[name]
    sources = [v.split(":")[0] for svc in brokers.values() for v in svc["volumes"]]
    assert len(set(sources)) == 3, "each broker keeps its log on its own volume"
    assert {"kafka-2-data", "kafka-3-data"} <= set(merged["volumes"])

    for name in PROJECT_SERVICES:
        env = {k: interpolate_defaults(str(v)) for k, v in merged["services"][name]["environment"].items()}
        assert env["LRS_KAFKA_BOOTSTRAP"].split(",") == ["kafka:9092", "kafka-2:9092", "kafka-3:9092"]
        assert int(env["LRS_TOPIC_REPLICATION"]) == 3
        settings = Settings(**{k.removeprefix("LRS_").lower(): v for k, v in env.items() if k.startswith("LRS_")})
        assert settings.topic_replication == 3
    for broker in ("kafka-2", "kafka-3"):
        assert merged["services"]["migrate"]["depends_on"][broker]["condition"] == "service_healthy"
