"""Expected failures of the ``lrs`` CLI: one line naming the cause and the fix, and a distinct exit code.

:func:`explain` maps an exception (or one in its ``__cause__``/``__context__`` chain) to an :class:`ExitCode` and
a message; ``lrs.tools.cli:main`` prints it on stderr instead of a traceback (tracebacks only with ``--debug`` or
``LRS_DEBUG=1``). Commands raise :class:`CliFailure` for failures that are not a library's exception.
"""

from __future__ import annotations

import traceback
from enum import IntEnum
from urllib.parse import urlsplit

from lrs.core.config import Settings


class ExitCode(IntEnum):
    """Exit codes of ``lrs`` (documented in README.md, "Exit codes")."""

    OK = 0
    FAILED = 1  # the command ran but its goal was not reached (a doctor check failed)
    USAGE = 2  # unknown option or missing argument (click's own code)
    CLICKHOUSE_UNREACHABLE = 3
    KAFKA_UNREACHABLE = 4
    AUTH = 5  # ClickHouse or Kafka refused our credentials
    BAD_INPUT = 6  # a missing, unreadable or malformed file or JSON argument, an invalid name
    NOT_FOUND = 7  # unknown tenant or key
    PORT_IN_USE = 8
    NOT_INSTALLED = 9  # Java, the Kafka broker jars, ClickHouse, or the report extra (lrs report)
    STACK = 10  # the local stack did not start
    NOT_MIGRATED = 11  # ClickHouse lacks our database or tables
    TIMEOUT = 12  # waited for the workers longer than asked (erase --wait)
    CONFIG = 13  # an LRS_* setting is invalid
    INTERNAL = 70  # unexpected: a bug (EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C


class CliFailure(Exception):
    """An expected failure raised by a command: ``message`` says what happened and what to do."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ClickHouse server error codes (ErrorCodes.cpp) that mean our credentials were refused: UNKNOWN_USER,
# WRONG_PASSWORD, REQUIRED_PASSWORD, IP_ADDRESS_NOT_ALLOWED (18.16) and AUTHENTICATION_FAILED (20.x on).
_CH_AUTH_CODES = {192, 193, 194, 195, 516}
_CH_UNKNOWN_TABLE, _CH_UNKNOWN_DATABASE = 60, 81


def clickhouse_address(url: str) -> str:
    """``host:port`` of a clickhouse-driver DSN (port 9000 when the DSN names none)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 9000}"


def _clickhouse_user(url: str) -> str:
    return urlsplit(url).username or "default"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first, without cycles."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen) and len(seen) < 20:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _from_clickhouse_driver(exc: BaseException) -> bool:
    return any("clickhouse_driver" in frame.filename for frame in traceback.extract_tb(exc.__traceback__))


def _one(exc: BaseException, settings: Settings | None) -> tuple[ExitCode, str] | None:
    """The mapping of one exception, without looking at its chain; None when it is not an expected failure."""
    from clickhouse_driver import errors as ch
    from kafka import errors as kafka_errors

    url = settings.clickhouse_url if settings else ""
    ch_at = clickhouse_address(url) if url else "the configured address"
    bootstrap = settings.kafka_bootstrap if settings else "the configured bootstrap servers"

    if isinstance(exc, CliFailure):
        return exc.code, exc.message
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED, "interrupted"

    # --- ClickHouse ------------------------------------------------------------------------------
    unreachable_ch = (f"cannot reach ClickHouse at {ch_at}{{why}}: run `lrs stack up` (local stack) or check "
                      "LRS_CLICKHOUSE_URL")
    if isinstance(exc, ch.SocketTimeoutError):
        return ExitCode.CLICKHOUSE_UNREACHABLE, unreachable_ch.format(why=" (timed out)")
    if isinstance(exc, ch.NetworkError):
        why = " (connection refused)" if "refused" in str(exc).lower() else f" ({exc.message.split('(')[0].strip()})"
        return ExitCode.CLICKHOUSE_UNREACHABLE, unreachable_ch.format(why=why)
    if isinstance(exc, EOFError) and _from_clickhouse_driver(exc):
        return ExitCode.CLICKHOUSE_UNREACHABLE, unreachable_ch.format(why=" (it closed the connection)")
    if isinstance(exc, ch.ServerException):
        if exc.code in _CH_AUTH_CODES:
            return ExitCode.AUTH, (f"ClickHouse at {ch_at} refused user '{_clickhouse_user(url)}' (wrong user or "
                                   "password, or not allowed from this host): check the user and password in "
                                   "LRS_CLICKHOUSE_URL")
        if exc.code in (_CH_UNKNOWN_TABLE, _CH_UNKNOWN_DATABASE):
            database = settings.clickhouse_database if settings else "lrs"
            what = (f"has no database '{database}'" if exc.code == _CH_UNKNOWN_DATABASE
                    else f"lacks tables in database '{database}'")
            return ExitCode.NOT_MIGRATED, f"ClickHouse at {ch_at} {what}: run `lrs migrate`"

    # --- Kafka -----------------------------------------------------------------------------------
    if isinstance(exc, kafka_errors.SaslAuthenticationFailedError | kafka_errors.AuthorizationError
                  | kafka_errors.TopicAuthorizationFailedError | kafka_errors.GroupAuthorizationFailedError
                  | kafka_errors.ClusterAuthorizationFailedError):
        return ExitCode.AUTH, (f"Kafka at {bootstrap} refused this client ({type(exc).__name__}): check the "
                               "broker's users and ACLs for it")
    unreachable_kafka = (f"cannot reach Kafka at {bootstrap}{{why}}: run `lrs stack up` (local stack) or check "
                         "LRS_KAFKA_BOOTSTRAP")
    # kafka-python 3 reports an unreachable bootstrap as KafkaTimeoutError; 2.x had NoBrokersAvailable.
    if isinstance(exc, getattr(kafka_errors, "NoBrokersAvailable", ())):
        return ExitCode.KAFKA_UNREACHABLE, unreachable_kafka.format(why=" (no broker answered)")
    if isinstance(exc, kafka_errors.KafkaConnectionError):
        return ExitCode.KAFKA_UNREACHABLE, unreachable_kafka.format(why=" (no broker accepts connections)")
    if isinstance(exc, kafka_errors.KafkaTimeoutError):
        return ExitCode.KAFKA_UNREACHABLE, unreachable_kafka.format(why=" (no broker answered in time)")
    from lrs.service.publisher import BrokerUnavailable

    if isinstance(exc, BrokerUnavailable):
        return ExitCode.KAFKA_UNREACHABLE, unreachable_kafka.format(why=" (no acknowledgement in time)")

    # --- local stack -----------------------------------------------------------------------------
    from lrs.tools.stack.process import StackError

    if isinstance(exc, StackError):
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        first = lines[0] if lines else "the local stack failed"
        details = [line for line in lines[1:] if not line.startswith("---")]
        if details:  # a program's output or log tail follows: its last line is usually the telling one
            first = f"{first.rstrip(':')}: {details[-1]} (all of its output: run with --debug)"
        text = str(exc)
        if "already in use" in text or "cannot bind" in text:
            return ExitCode.PORT_IN_USE, first
        if "is not installed" in text:
            return ExitCode.NOT_INSTALLED, first
        return ExitCode.STACK, first

    # --- input and configuration -----------------------------------------------------------------
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        problems = "; ".join(f"LRS_{'_'.join(str(p) for p in e['loc']).upper()}={e.get('input')!r}: {e['msg']}"
                             for e in exc.errors())
        return ExitCode.CONFIG, f"invalid setting {problems}: fix the environment variable"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return ExitCode.BAD_INPUT, f"no such file: {exc.filename}: check the path"
    if isinstance(exc, OSError) and exc.filename:  # a path we were given cannot be read or written
        return ExitCode.BAD_INPUT, f"cannot use {exc.filename}: {exc.strerror}: check the path"
    from lrs.service.auth.credentials import CredentialError, UnknownCredential

    if isinstance(exc, UnknownCredential):
        return ExitCode.NOT_FOUND, f"{exc}: see the keys with `lrs credentials list --tenant T`"
    if isinstance(exc, CredentialError):
        return ExitCode.BAD_INPUT, str(exc)
    from lrs.tools.erasure import ErasureError

    if isinstance(exc, ErasureError):
        return ExitCode.BAD_INPUT, f"{exc}: pass the learner as an xAPI Agent, e.g. '{{\"mbox\": \"mailto:a@b.c\"}}'"
    return None


def explain(exc: BaseException, settings: Settings | None = None) -> tuple[ExitCode, str]:
    """Exit code and one-line message for ``exc``: the first expected failure in its chain, else INTERNAL."""
    for link in _chain(exc):
        found = _one(link, settings)
        if found is not None:
            code, message = found
            return code, " ".join(message.split("\n"))
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return ExitCode.INTERNAL, (f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} (a bug: run "
                               "with --debug or LRS_DEBUG=1 for the traceback and report it)")
