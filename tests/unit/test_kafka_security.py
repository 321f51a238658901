"""Kafka TLS/SASL settings reach every client's options, and settings can be read from secret files."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from lrs.core.config import Settings, settings_env
from lrs.core.kafka.security import kafka_options, ssl_context
from streams.app import broker_credentials


def test_plaintext_by_default() -> None:
    settings = Settings()
    assert kafka_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert ssl_context(settings) is None and broker_credentials(settings) is None


def test_sasl_ssl_for_kafka_python_and_faust() -> None:
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                        kafka_sasl_username="lrs", kafka_sasl_password="s3cret")
    options = kafka_options(settings)
    assert options["security_protocol"] == "SASL_SSL" and isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED and options["ssl_context"].check_hostname
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "SCRAM-SHA-512", "lrs", "s3cret")
    credentials = broker_credentials(settings)
    assert credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.username == "lrs" and credentials.password == "s3cret"
    assert "s3cret" not in repr(settings)  # never printed with the settings


def test_ssl_without_sasl() -> None:
    settings = Settings(kafka_security_protocol="SSL")
    assert "sasl_mechanism" not in kafka_options(settings)
    assert broker_credentials(settings).protocol.value == "SSL"


def test_secrets_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "password").write_text("from-a-file\n")
    (tmp_path / "dsn").write_text("clickhouse://lrs:pw@ch:9000/lrs?secure=True\n")
    monkeypatch.setenv("LRS_KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "password"))
    monkeypatch.setenv("LRS_CLICKHOUSE_URL_FILE", str(tmp_path / "dsn"))
    settings = Settings()
    assert settings.kafka_sasl_password.get_secret_value() == "from-a-file"
    assert settings.clickhouse_url == "clickhouse://lrs:pw@ch:9000/lrs?secure=True"
    # A child process gets the value itself, not the mask.
    assert settings_env(settings, {})["LRS_KAFKA_SASL_PASSWORD"] == "from-a-file"
    monkeypatch.setenv("LRS_KAFKA_SASL_PASSWORD", "explicit")  # the variable itself wins over the file
    assert Settings().kafka_sasl_password.get_secret_value() == "explicit"
