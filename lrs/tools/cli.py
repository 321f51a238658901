"""The ``lrs`` command line: local stack, LRS server, workers, schema, credentials, demo, doctor.

Run through :func:`main` (the ``lrs`` script and ``python -m lrs``): an expected failure prints one line on
stderr naming the cause and the fix and exits with its own code (``lrs/tools/cli_errors.py``); tracebacks only with
``--debug`` or ``LRS_DEBUG=1``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from lrs.core.config import Settings
from lrs.tools.brands_cli import brand_app
from lrs.tools.cli_errors import CliFailure, ExitCode, explain

app = typer.Typer(help="xAPI LRS streaming learning events through Kafka into ClickHouse. A failure prints one line "
                  "(cause and fix) on stderr and exits with its own code (README.md, The CLI).", no_args_is_help=True)
stack_app = typer.Typer(help="The embedded local stack (Apache Kafka in KRaft mode + ClickHouse server).",
                        no_args_is_help=True)
credentials_app = typer.Typer(help="Basic-auth credentials of tenants (brands).", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(credentials_app, name="credentials")
courses_app = typer.Typer(help="Course structures (ordered modules) of a tenant.", no_args_is_help=True)
analytics_app = typer.Typer(help="Engagement and drop-off analytics (docs/metrics.md).", no_args_is_help=True)
app.add_typer(courses_app, name="courses")
app.add_typer(analytics_app, name="analytics")
app.add_typer(brand_app, name="brand")
console = Console()
_debug = False  # set by the global --debug option (or LRS_DEBUG=1)


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option("--debug", help="On failure print the traceback too (also LRS_DEBUG=1).")]
    = False,
) -> None:
    """Options of every command (the app's help text is the Typer's ``help``)."""
    global _debug
    _debug = debug
    if debug:  # main() quietened the client libraries before the options were parsed
        _service_logging()


class _RateColumn(ProgressColumn):
    """Items per second of a task (rich's own speed column formats bytes)."""

    def render(self, task: Task) -> Text:
        """``12.3/s``, or nothing until rich has measured a speed."""
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="progress.data.speed")


@contextmanager
def _progress(description: str, total: float | None, unit: str = "") -> Iterator[Callable[[float], None]]:
    """A progress bar on stderr (counts, rate, elapsed) for a long operation; yields ``advance(n)``.

    Drawn only on a terminal: piped or logged runs keep just the command's result lines.
    """
    err = Console(stderr=True)
    columns: list[ProgressColumn | str] = [TextColumn("{task.description}"), BarColumn()]
    if unit:  # a quantity such as seconds waited: no rate
        columns.append(TextColumn("{task.completed:.0f}/{task.total:.0f} " + unit))
    else:
        columns += [MofNCompleteColumn(), _RateColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


def _print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout (no colours, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _require_tenant(clickhouse: Any, tenant: str) -> None:
    """CliFailure(NOT_FOUND) unless ``tenant`` ever had a credential (that is how a tenant comes to exist)."""
    if not clickhouse.run("credentials_list", {"tenant": tenant}):
        raise CliFailure(ExitCode.NOT_FOUND, f"unknown tenant '{tenant}' (it has no credentials): check the name, "
                         f"or create it with `lrs credentials add --tenant {tenant}`")


def _require_kafka(settings: Settings) -> None:
    """KafkaConnectionError unless a bootstrap server accepts a TCP connection.

    Faust gives up at start-up without a broker anyway, but deep in its service tree with a long traceback.
    """
    import socket

    from kafka.errors import KafkaConnectionError

    for server in settings.kafka_bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=3).close()
            return
        except (OSError, ValueError):
            continue
    raise KafkaConnectionError(f"no bootstrap server of {settings.kafka_bootstrap} accepts connections")


def _read_json_file(path: str) -> Any:
    """The parsed JSON file at ``path``; CliFailure(BAD_INPUT) naming the file and the problem."""
    import orjson

    try:
        with open(path, "rb") as handle:
            return orjson.loads(handle.read())
    except orjson.JSONDecodeError as exc:
        raise CliFailure(ExitCode.BAD_INPUT, f"{path} is not valid JSON ({exc}): fix the file") from exc


def _debug_wanted() -> bool:
    if _debug:
        return True
    try:
        return Settings().debug
    except Exception:  # an invalid setting is itself the failure being reported
        return os.environ.get("LRS_DEBUG", "").lower() in ("1", "true", "yes", "on")


# Typer 0.2x runs its own copy of click: its usage errors are not click's classes.
_ClickException: type[Exception] = getattr(getattr(typer, "_click", None), "ClickException", click.ClickException)
# Loggers of the client libraries: they log each failed connection with a traceback before raising.
_CLIENT_LOGGERS = ("clickhouse_driver", "kafka")


def _service_logging() -> None:
    """Give the client libraries their log back: a long-running server reports its connection trouble."""
    for name in _CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map expected failures to one stderr line and an exit code (``ExitCode``)."""
    global _debug
    _debug = False  # the callback sets it again if --debug is given (main may run twice in one process)
    if not _debug_wanted():
        for name in _CLIENT_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="lrs", standalone_mode=False)
    except _ClickException as exc:  # usage errors keep click's message and its code 2
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
        return int(getattr(exc, "exit_code", ExitCode.USAGE))
    except (typer.Abort, click.exceptions.Abort) as exc:  # click wraps EOFError (a connection closed) in Abort
        return _report(exc.__cause__ or KeyboardInterrupt())
    except Exception as exc:
        return _report(exc)
    return result if isinstance(result, int) else 0


def _report(exc: BaseException) -> int:
    """Print ``exc`` as one line on stderr (plus the traceback in debug mode); its exit code."""
    try:
        settings: Settings | None = Settings()
    except Exception:
        settings = None
    code, message = explain(exc, settings)
    if _debug_wanted():
        import traceback

        traceback.print_exception(exc)
    sys.stderr.write(f"lrs: error: {message}\n")
    sys.stderr.flush()
    return int(code)


def _status_table(statuses) -> Table:
    table = Table("service", "running", "pid", "address", "detail")
    for s in statuses:
        table.add_row(s.name, "[green]yes[/green]" if s.running else "[red]no[/red]", str(s.pid or ""),
                      s.address, s.detail)
    return table


@stack_app.command("up")
def stack_up(
    brokers: Annotated[int | None, typer.Option(
        min=1, max=9, help="Kafka nodes: 1 (default), or 3 for a replicated cluster (replication 3, "
        "min.insync.replicas 2) to watch a failover. A stack keeps the size it was first started with.")] = None,
    cluster: Annotated[bool, typer.Option("--cluster", help="A replicated stack: two ClickHouse replicas of one "
        "shard with ZooKeeper, and three Kafka nodes (unless --brokers says otherwise). The LRS, workers and "
        "`lrs migrate` then need LRS_CLICKHOUSE_CLUSTER=lrs LRS_CLICKHOUSE_REPLICAS=2 LRS_BROKERS=3.")] = False,
) -> None:
    """Start the Kafka broker(s) and ClickHouse (idempotent) and wait until all answer."""
    from lrs.tools.stack.stack import LocalStack

    settings = Settings()
    stack = LocalStack(settings, brokers=brokers or (3 if cluster else None), replicas=2 if cluster else None)
    console.print(_status_table(stack.up(timeout=120 if stack.replicas > 1 else 30)))
    if stack.replicas > 1 and not settings.clickhouse_cluster:
        console.print(f"cluster stack: run lrs with LRS_CLICKHOUSE_CLUSTER=lrs LRS_CLICKHOUSE_REPLICAS={stack.replicas}"
                      f" LRS_BROKERS={stack.brokers} (docs/deployment.md)")


@stack_app.command("down")
def stack_down() -> None:
    """Stop what `lrs stack up` and `lrs demo` started: LRS and workers, then ClickHouse, then Kafka."""
    from lrs.tools.stack.stack import LocalStack

    console.print(_status_table(LocalStack(Settings()).down()))


@stack_app.command("status")
def stack_status(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of {name, running, pid, address, detail}.")]
    = False,
) -> None:
    """Show whether the local services (and LRS/worker processes started by `lrs demo`) run."""
    from dataclasses import asdict

    from lrs.tools.stack.stack import LocalStack

    statuses = LocalStack(Settings()).status()
    if as_json:
        _print_json([asdict(s) for s in statuses])
    else:
        console.print(_status_table(statuses))


@app.command()
def migrate() -> None:
    """Apply ClickHouse migrations and create the Kafka topics (idempotent)."""
    from lrs.tools.stack.stack import LocalStack

    settings = Settings()
    _require_kafka(settings)  # fail at once, not after the admin client's 30 s bootstrap, and before any change
    # The embedded ClickHouse's new tables spread their parts too, if this machine runs it.
    report, created = LocalStack(settings).migrate()
    console.print(f"ClickHouse: applied {report.applied or 'nothing'}; already applied: {len(report.already)}")
    console.print(f"Kafka topics created: {created or 'none (all exist)'}")


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of {check, status, detail, fix}.")] = False,
) -> None:
    """Check what the pipeline needs: Java and the Kafka broker, ClickHouse server and version, chDB, ports, disk
    space, the configured Kafka bootstrap and ClickHouse URL, migrations, topics, workers and consumer lag.

    Each line is ok, warn, fail or skip (what it needs failed), with what to do; exit code 1 if any line fails.
    """
    from lrs.tools.doctor import FAIL, run_checks

    settings = Settings()
    if as_json:
        checks = run_checks(settings)
        _print_json([c.as_dict() for c in checks])
    else:
        with console.status("checking...") as status:
            checks = run_checks(settings, progress=lambda name: status.update(f"checking {name}..."))
        colours = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
        table = Table("check", "status", "detail", "what to do")
        for c in checks:
            table.add_row(c.check, f"[{colours[c.status]}]{c.status}[/]", c.detail, c.fix)
        # Piped or logged output gets room for whole paths and commands (rich assumes 80 columns there).
        wide = console if console.is_terminal else Console(width=160)
        wide.print(table)
    if any(c.status == FAIL for c in checks):
        raise typer.Exit(int(ExitCode.FAILED))


@app.command()
def serve(
    workers: Annotated[int, typer.Option(help="HTTP worker processes (each a full LRS).")] = 1,
) -> None:
    """Run the HTTP LRS on LRS_HTTP_HOST:LRS_HTTP_PORT."""
    import functools

    import uvicorn

    from lrs.service.guard import BoundedHttpToolsProtocol
    from lrs.service.serving import can_spread, run_spread
    from lrs.tools.stack.process import ensure_port_free

    settings = Settings()
    # uvicorn would log the bind error and exit 1; say which setting moves it instead (the check binds IPv4).
    if ":" not in settings.http_host:
        ensure_port_free(settings.http_port, "http_port", settings.http_host)
    if settings.metrics_port:
        from lrs.service.metrics_export import prepare_multiprocess, start_metrics_server

        if ":" not in settings.metrics_host:
            ensure_port_free(settings.metrics_port, "metrics_port", settings.metrics_host)
        # Metrics name tenants: their own port, summed over the worker processes (never the xAPI port).
        prepare_multiprocess(settings)
        start_metrics_server(settings)
    _service_logging()
    # Bounded request heads and early-answer draining (lrs/service/guard.py); a partial pickles for --workers.
    protocol = functools.partial(BoundedHttpToolsProtocol, max_header_bytes=settings.max_header_bytes,
                                 max_discard_bytes=2 * settings.max_body_bytes,
                                 default_version=settings.xapi_default_version)
    options: dict[str, Any] = dict(factory=True, host=settings.http_host, port=settings.http_port, workers=workers,
                                   log_level="warning", access_log=False, http=protocol)
    if workers > 1 and settings.http_socket_per_process and can_spread():
        run_spread(uvicorn.Config("lrs.service.app:app_from_env", **options))
    else:
        uvicorn.run("lrs.service.app:app_from_env", **options)


@app.command()
def worker() -> None:
    """Run a stream worker (Faust); start several to share the topic's partitions."""
    import mode.loop
    from prometheus_client import start_http_server

    from lrs.core.util.gctune import set_switch_interval, tune_gc
    from lrs.core.util.malloctune import limit_arenas
    from streams.app import create_app, faust_worker

    settings = Settings()
    _require_kafka(settings)
    # Before Faust makes its loop: the policy decides which loop every later get_event_loop() creates.
    mode.loop.use({"uvloop": "uvloop", "asyncio": "aio"}[settings.worker_event_loop])
    limit_arenas(settings.malloc_arenas)  # before any thread starts (each may get an arena)
    _service_logging()
    logging.basicConfig(level=logging.INFO)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.metrics_host)
    faust_app = create_app(settings)
    tune_gc(settings.gc_thresholds)
    set_switch_interval(settings.gil_switch_interval_ms)
    faust_worker(faust_app).execute_from_commandline()


@credentials_app.command("add")
def credentials_add(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) the key belongs to.")],
    name: Annotated[str, typer.Option(help="Label, e.g. the platform using the key.")] = "",
    scope: Annotated[list[str], typer.Option(help="Scopes (repeatable); default: all.")] = None,  # noqa: B006
) -> None:
    """Create a key/secret pair; the secret is printed once and stored hashed."""
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    settings = Settings()
    store = CredentialStore(settings, ClickHouse(settings, size=1))
    key, secret = store.create(tenant, name, tuple(scope or ("all",)))
    console.print(f"key:    {key}\nsecret: {secret}\ntenant: {tenant}")


@credentials_app.command("list")
def credentials_list(
    tenant: Annotated[str, typer.Option(help="Tenant to list.")],
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of {key, name, scopes, revoked}.")] = False,
) -> None:
    """List a tenant's keys (never secrets); an unknown tenant is an error (exit code 7)."""
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    settings = Settings()
    clickhouse = ClickHouse(settings, size=1)
    _require_tenant(clickhouse, tenant)
    keys = CredentialStore(settings, clickhouse).list(tenant)
    if as_json:
        _print_json(keys)
        return
    table = Table("key", "name", "scopes", "revoked")
    for c in keys:
        table.add_row(c["key"], c["name"], ",".join(c["scopes"]), str(c["revoked"]))
    console.print(table)


@credentials_app.command("rotate")
def credentials_rotate(key: str) -> None:
    """Give a key a new secret (the old one stops working within seconds)."""
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    settings = Settings()
    secret = CredentialStore(settings, ClickHouse(settings, size=1)).rotate(key)
    console.print(f"key:    {key}\nsecret: {secret}")


@credentials_app.command("revoke")
def credentials_revoke(key: str) -> None:
    """Revoke a key for good."""
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    settings = Settings()
    CredentialStore(settings, ClickHouse(settings, size=1)).revoke(key)
    console.print(f"revoked {key}")


@courses_app.command("import")
def courses_import(
    file: Annotated[str, typer.Argument(help="JSON file: a list of {course_id, name, modules: [{module_id, name}]} "
                                        "(or {\"courses\": [...]}).")],
    tenant: Annotated[str, typer.Option(help="Tenant (brand) the courses belong to.")],
) -> None:
    """Declare course structures from a file (replaces each course's previous declaration)."""
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.courses import StructureError, declare_structure
    from lrs.service.publisher import Publisher

    settings = Settings()
    declared = _read_json_file(file)  # before connecting: a bad file is reported even with the stack down
    listed = declared.get("courses") if isinstance(declared, dict) else declared
    publisher = Publisher(settings)
    try:
        # declare_structure marks each declared course dirty through `send`, one acknowledged send per course.
        with _progress(f"declaring courses of {tenant}", len(listed) if isinstance(listed, list) else None) as done:
            def send(topic: str, key: bytes, value: bytes) -> None:
                publisher.send(topic, key, value)
                done(1)

            courses = declare_structure(settings, ClickHouse(settings, size=1), send, tenant, declared)
    except StructureError as exc:
        raise CliFailure(ExitCode.BAD_INPUT, f"{file}: {exc}: fix the file") from exc
    finally:
        publisher.close()
    console.print(f"declared {len(courses)} course(s) for {tenant}; their analytics will be recomputed")


@courses_app.command("show")
def courses_show(
    tenant: Annotated[str, typer.Option(help="Tenant to show.")],
    as_json: Annotated[bool, typer.Option("--json", help="The structures in the import format (a JSON list of "
                                          "{course_id, name, declared_us, modules: [{module_id, name, position}]}).")]
    = False,
) -> None:
    """Print a tenant's current course structures."""
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.courses import current_structure

    settings = Settings()
    clickhouse = ClickHouse(settings, size=1)
    _require_tenant(clickhouse, tenant)
    courses = current_structure(clickhouse, tenant)
    if as_json:
        _print_json(courses)
        return
    table = Table("course", "position", "module", "name")
    for course in courses:
        for module in course["modules"]:
            table.add_row(course["course_id"], str(module["position"]), module["module_id"], module["name"])
    console.print(table)


@courses_app.command("rules")
def courses_rules(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) whose mapping rules to show or set.")],
    course_type: Annotated[list[str], typer.Option(help="Activity type marking a course (repeatable).")] = None,  # noqa: B006
    module_type: Annotated[list[str], typer.Option(help="Activity type marking a module (repeatable).")] = None,  # noqa: B006
    reset: Annotated[bool, typer.Option(help="Go back to the default rules.")] = False,
) -> None:
    """Show or set how a tenant's statements map to courses and modules (docs/metrics.md, Course mapping).

    New rules apply to statements stored from then on (workers pick them up within LRS_MAPPING_RULES_CACHE_S).
    """
    import time

    from lrs.core.store.clickhouse import ClickHouse
    from streams.mapping import DEFAULT_RULES

    settings = Settings()
    clickhouse = ClickHouse(settings, size=1)
    if reset or course_type or module_type:
        courses = [] if reset else list(course_type or DEFAULT_RULES.course_types)
        modules = [] if reset else list(module_type or DEFAULT_RULES.module_types)
        clickhouse.insert("mapping_rules_insert", [[tenant, courses, modules, int(time.time() * 1_000_000)]])
    rows = clickhouse.run("mapping_rules_get", {"tenant": tenant})
    courses, modules = rows[0] if rows else ([], [])
    table = Table("marks a", "activity types")
    table.add_row("course", "\n".join(courses or DEFAULT_RULES.course_types) + ("" if courses else " (default)"))
    table.add_row("module", "\n".join(modules or DEFAULT_RULES.module_types) + ("" if modules else " (default)"))
    console.print(table)


@analytics_app.command("refresh")
def analytics_refresh(tenant: Annotated[str, typer.Option(help="Tenant whose courses to recompute.")]) -> None:
    """Mark every course of a tenant dirty, so the workers recompute its analytics (backfill)."""
    from lrs.core.kafka.markers import marker_key, marker_value
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.publisher import Publisher

    settings = Settings()
    clickhouse = ClickHouse(settings, size=1)
    _require_tenant(clickhouse, tenant)
    courses = [c for (c,) in clickhouse.run("analytics_tenant_courses", {"tenant": tenant})]
    publisher = Publisher(settings)
    try:
        with _progress(f"marking courses of {tenant}", len(courses)) as done:
            for course_id in courses:
                key, value = marker_key(tenant, course_id), marker_value(tenant, course_id)
                publisher.send(settings.analytics_dirty_topic, key, value)
                done(1)
    finally:
        publisher.close()
    console.print(f"marked {len(courses)} course(s) of {tenant} for recomputation")


@app.command()
def demo(
    learners: Annotated[int, typer.Option(help="Learners in the generated cohort.")] = 3000,
    tenant: Annotated[str, typer.Option(help="Tenant (brand) to create.")] = "acme",
    seed: Annotated[int, typer.Option(help="Seed of the cohort generator.")] = 7,
) -> None:
    """Bring the stack up, run LRS + worker, send a generated brand cohort, print the summary."""
    from lrs.tools.demo.run import run_demo

    run_demo(Settings(), learners=learners, tenant=tenant, seed=seed, console=console)


@app.command()
def report(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) to report on.")],
    out: Annotated[str, typer.Option(help="Directory to write report-<tenant>.html into.")] = "reports",
) -> None:
    """Write the dashboards' views (overview, courses, funnels, cohorts) as one self-contained HTML page."""
    from pathlib import Path

    from lrs.core.store.clickhouse import ClickHouse
    from lrs.tools.report.html import clickhouse_runner, write_report

    settings = Settings()
    _require_tenant(ClickHouse(settings, size=1), tenant)
    path = write_report(clickhouse_runner(settings), tenant, Path(out),
                        session_cap_s=int(settings.analytics_session_cap_s))
    console.print(f"report written: {path.resolve()}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                "help_option_names": []})
def bench(ctx: typer.Context) -> None:
    """Benchmark suite on an isolated stack, side by side with Ralph (options: lrs bench --help)."""
    from lrs.tools.bench.cli import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@app.command()
def erase(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) the learner belongs to.")] = "",
    agent: Annotated[str, typer.Option(help='The learner as xAPI Agent JSON, e.g. \'{"mbox": "mailto:a@b.c"}\'.')]
    = "",
    wait: Annotated[float, typer.Option(help="Seconds to wait for the workers to apply it (0: do not wait).")] = 120,
    status: Annotated[bool, typer.Option("--status", help="Show the erasure requests (of --tenant, or all) and "
                                         "their state instead: requested, pending, applying, done, failed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --status: one JSON document.")] = False,
) -> None:
    """GDPR erasure: remove a learner from the raw table, documents, attachments and every derived table."""
    import orjson

    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.publisher import Publisher
    from lrs.tools.erasure import ErasureError, erasure_status, request_erasure, wait_applied

    settings = Settings()
    if status:
        _erasure_status(erasure_status(ClickHouse(settings, size=1), tenant), as_json)
        return
    if not tenant or not agent:
        raise typer.BadParameter("--tenant and --agent are required (or --status)")
    try:
        parsed = orjson.loads(agent)
    except orjson.JSONDecodeError as exc:
        raise ErasureError(f"agent is not valid JSON ({exc})") from exc
    if not isinstance(parsed, dict):
        raise ErasureError("agent must be a JSON object")
    clickhouse = ClickHouse(settings, size=1)
    _require_tenant(clickhouse, tenant)
    publisher = Publisher(settings)
    try:
        erasure = request_erasure(settings, publisher, tenant, parsed, clickhouse)
    finally:
        publisher.close()
    console.print(f"erasure {erasure.request_id} accepted for {len(erasure.ifis)} identifier(s)")
    if wait <= 0:
        return
    import time

    # Polled in one-second slices so the bar shows the time waited against --wait.
    deadline = time.monotonic() + wait
    done = None
    with _progress("waiting for the workers to apply it", wait, unit="s") as advance:
        while done is None and time.monotonic() < deadline:
            started = time.monotonic()
            done = wait_applied(clickhouse, erasure, min(1.0, deadline - started))
            advance(time.monotonic() - started)
    if done is None:
        now = erasure_status(clickhouse, tenant)
        state = next((f"{r.state} after {r.attempts} attempt(s){': ' + r.error if r.error else ''}" for r in now
                      if r.request_id == erasure.request_id), "unknown")
        raise CliFailure(ExitCode.TIMEOUT, f"erasure not applied within {wait:.0f}s (state: {state}): it stays queued "
                         "and is retried until applied; check that workers run (`lrs doctor`), follow it with "
                         "`lrs erase --status`, or wait longer with --wait")
    statements, documents = done
    console.print(f"[green]erased[/green]: {statements} statement(s), {documents} document(s); "
                  "the affected courses are being recomputed without them")


def _erasure_status(requests: list, as_json: bool) -> None:
    """Print erasure requests: a table, or JSON (no identifiers: they are never shown)."""
    import datetime as dt

    import orjson
    from rich.table import Table

    def when(us: int) -> str:
        return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if us else ""

    docs = [{"tenant": r.tenant, "request_id": r.request_id, "state": r.state, "attempts": r.attempts,
             "requested": when(r.requested_us), "next_try": when(r.next_try_us) if r.state == "failed" else "",
             "error": r.error, "statements": r.statements_erased, "documents": r.documents_erased,
             "attachments": r.attachments_erased} for r in requests]
    if as_json:
        sys.stdout.write(orjson.dumps(docs).decode() + "\n")
        return
    table = Table("tenant", "request", "state", "attempts", "requested", "erased (st/doc/att)", "next try / error")
    for d in docs:
        table.add_row(d["tenant"], d["request_id"], d["state"], str(d["attempts"]), d["requested"],
                      f"{d['statements']}/{d['documents']}/{d['attachments']}",
                      " ".join(x for x in (d["next_try"], d["error"]) if x))
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
