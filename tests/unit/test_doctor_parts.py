"""Parts of ``lrs doctor`` that need no running service: which endpoints are the embedded stack's, and the
installation and disk checks on real directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrs.core.config import Settings
from lrs.tools import doctor
from lrs.tools.cli_errors import ExitCode, explain
from lrs.tools.stack import clickhouse
from lrs.tools.stack.process import StackError


def test_is_local_follows_the_endpoints(tmp_path: Path) -> None:
    assert doctor.is_local(Settings(state_dir=tmp_path, broker_port=29092, clickhouse_tcp_port=29000))
    assert doctor.is_local(Settings(state_dir=tmp_path, broker_port=29092, brokers=3))
    assert not doctor.is_local(Settings(kafka_bootstrap="kafka:9092"))
    assert not doctor.is_local(Settings(clickhouse_url="clickhouse://default:@db:9000/lrs"))


def test_missing_broker_jars_fail_locally_and_warn_for_a_remote_stack(tmp_path: Path) -> None:
    settings = Settings(kafka_lib_dir=tmp_path)
    local = doctor.check_kafka_jars(settings, local=True)
    assert local.status == doctor.FAIL and str(tmp_path) in local.detail and "scripts/setup.sh" in local.fix
    assert doctor.check_kafka_jars(settings, local=False).status == doctor.WARN
    (tmp_path / "kafka_2.13-4.3.1.jar").write_bytes(b"")
    found = doctor.check_kafka_jars(settings, local=True)
    assert found.status == doctor.OK and "Apache Kafka 4.3.1" in found.detail


def test_disk_check_reports_the_nearest_existing_directory(tmp_path: Path) -> None:
    result = doctor.check_disk(Settings(state_dir=tmp_path / "not" / "yet"), local=True)
    assert result.status in (doctor.OK, doctor.WARN, doctor.FAIL)
    assert f"at {tmp_path}" in result.detail and "GiB free" in result.detail


def test_clickhouse_not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Hide the installed server: no candidates, an empty PATH.
    monkeypatch.setattr(clickhouse, "_CANDIDATES", ())
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError) as info:
        clickhouse.server_binary()
    code, message = explain(info.value)
    assert code == ExitCode.NOT_INSTALLED and "scripts/setup.sh" in message
    result = doctor.check_clickhouse_server(Settings(), local=True)
    assert result.status == doctor.FAIL and "scripts/setup.sh" in result.fix
