"""The CLI's exception-to-message mapping (lrs/tools/cli_errors.py) and its entry point, on real exceptions raised by
the real libraries and stack helpers (no service needed: the ports used are closed)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from clickhouse_driver.errors import ServerException
from kafka.errors import KafkaTimeoutError

from lrs.core.config import Settings
from lrs.service.auth.credentials import CredentialError, UnknownCredential
from lrs.service.publisher import BrokerUnavailable
from lrs.tools import cli
from lrs.tools.cli_errors import CliFailure, ExitCode, clickhouse_address, explain
from lrs.tools.stack import broker
from lrs.tools.stack.process import StackError, ensure_port_free, free_ports


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    ch_tcp, broker_port = free_ports(2)
    return Settings(state_dir=tmp_path, clickhouse_tcp_port=ch_tcp, broker_port=broker_port)


def raised(fn) -> BaseException:  # noqa: ANN001
    """The exception ``fn()`` raises."""
    with pytest.raises(BaseException) as info:
        fn()
    return info.value


def test_exit_codes_are_distinct() -> None:
    assert len({int(c) for c in ExitCode}) == len(ExitCode)
    assert ExitCode.USAGE == 2 and ExitCode.OK == 0


def test_clickhouse_refused_names_the_address_and_the_fix(settings: Settings) -> None:
    from lrs.core.store.clickhouse import make_client

    exc = raised(lambda: make_client(settings).execute("SELECT 1"))
    code, message = explain(exc, settings)
    assert code == ExitCode.CLICKHOUSE_UNREACHABLE
    assert message == (f"cannot reach ClickHouse at 127.0.0.1:{settings.clickhouse_tcp_port} (connection refused): "
                       "run `lrs stack up` (local stack) or check LRS_CLICKHOUSE_URL")


def test_clickhouse_server_codes(settings: Settings) -> None:
    code, message = explain(ServerException("Wrong password for user default", code=193), settings)
    assert code == ExitCode.AUTH and "refused user 'default'" in message and "LRS_CLICKHOUSE_URL" in message
    code, message = explain(ServerException("Table lrs.credentials doesn't exist.", code=60), settings)
    assert code == ExitCode.NOT_MIGRATED and message.endswith("run `lrs migrate`")
    code, _ = explain(ServerException("Syntax error", code=62), settings)
    assert code == ExitCode.INTERNAL


def test_kafka_unreachable_also_through_a_cause(settings: Settings) -> None:
    for exc in (KafkaTimeoutError("Unable to bootstrap"), BrokerUnavailable("the message broker did not acknowledge")):
        code, message = explain(exc, settings)
        assert code == ExitCode.KAFKA_UNREACHABLE
        assert f"cannot reach Kafka at {settings.kafka_bootstrap}" in message and "LRS_KAFKA_BOOTSTRAP" in message
    try:
        try:
            raise KafkaTimeoutError("Unable to bootstrap")
        except KafkaTimeoutError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert explain(outer, settings)[0] == ExitCode.KAFKA_UNREACHABLE


def test_stack_errors_by_cause(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        port = holder.getsockname()[1]
        code, message = explain(raised(lambda: ensure_port_free(port, "broker_port")), settings)
    finally:
        holder.close()
    assert code == ExitCode.PORT_IN_USE and f"port {port}" in message and "LRS_BROKER_PORT" in message

    empty = Settings(kafka_lib_dir=tmp_path)
    assert explain(raised(lambda: broker.class_path(empty)))[0] == ExitCode.NOT_INSTALLED
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    code, message = explain(raised(broker.java_binary))
    assert code == ExitCode.NOT_INSTALLED and message.startswith("Java is not installed")

    code, message = explain(StackError("the broker exited during start-up\n--- last lines of x.log:\nstarting\nboom"))
    assert code == ExitCode.STACK and "\n" not in message and "--debug" in message
    assert message.startswith("the broker exited during start-up: boom") and "starting" not in message


def test_input_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    code, message = explain(raised(lambda: missing.open("rb")))
    assert (code, message) == (ExitCode.BAD_INPUT, f"no such file: {missing}: check the path")
    assert explain(UnknownCredential("no credential with key k"))[0] == ExitCode.NOT_FOUND
    assert explain(CredentialError("unknown scopes: x"))[0] == ExitCode.BAD_INPUT
    assert explain(CliFailure(ExitCode.TIMEOUT, "late"))[:2] == (ExitCode.TIMEOUT, "late")


def test_invalid_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_HTTP_PORT", "eighty")
    code, message = explain(raised(Settings))
    assert code == ExitCode.CONFIG and "LRS_HTTP_PORT='eighty'" in message


def test_unexpected_errors_point_at_debug() -> None:
    code, message = explain(ZeroDivisionError("division by zero"))
    assert code == ExitCode.INTERNAL and "--debug" in message and "ZeroDivisionError" in message


def test_clickhouse_address() -> None:
    assert clickhouse_address("clickhouse://u:p@db.example:9440/lrs?secure=1") == "db.example:9440"
    assert clickhouse_address("clickhouse://db/lrs") == "db:9000"


def test_main_prints_one_line_and_returns_the_code(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LRS_DEBUG", raising=False)
    missing = tmp_path / "nope.json"
    assert cli.main(["courses", "import", str(missing), "--tenant", "x"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err == f"lrs: error: no such file: {missing}: check the path\n"
    assert cli.main(["--debug", "courses", "import", str(missing), "--tenant", "x"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith(f"lrs: error: no such file: {missing}: check the path\n")
    assert cli.main(["no-such-command"]) == ExitCode.USAGE
    assert cli.main(["--help"]) == 0
    assert "doctor" in capsys.readouterr().out
