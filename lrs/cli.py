"""The ``lrs`` command line: local stack, LRS server, workers, schema, credentials, demo."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lrs.config import Settings

app = typer.Typer(help="xAPI LRS streaming learning events through Kafka into ClickHouse.", no_args_is_help=True)
stack_app = typer.Typer(help="The embedded local stack (Apache Kafka in KRaft mode + ClickHouse server).",
                        no_args_is_help=True)
credentials_app = typer.Typer(help="Basic-auth credentials of tenants (brands).", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(credentials_app, name="credentials")
courses_app = typer.Typer(help="Course structures (ordered modules) of a tenant.", no_args_is_help=True)
analytics_app = typer.Typer(help="Engagement and drop-off analytics (docs/metrics.md).", no_args_is_help=True)
app.add_typer(courses_app, name="courses")
app.add_typer(analytics_app, name="analytics")
console = Console()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


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
) -> None:
    """Start the Kafka broker(s) and ClickHouse (idempotent) and wait until all answer."""
    from lrs.stack.stack import LocalStack, StackError

    try:
        console.print(_status_table(LocalStack(Settings(), brokers=brokers).up()))
    except StackError as exc:
        _fail(str(exc))


@stack_app.command("down")
def stack_down() -> None:
    """Stop what ``stack up`` started."""
    from lrs.stack.stack import LocalStack

    console.print(_status_table(LocalStack(Settings()).down()))


@stack_app.command("status")
def stack_status() -> None:
    """Show whether the local services run."""
    from lrs.stack.stack import LocalStack

    console.print(_status_table(LocalStack(Settings()).status()))


@app.command()
def migrate() -> None:
    """Apply ClickHouse migrations and create the Kafka topics (idempotent)."""
    from lrs.kafka.topics import ensure_topics
    from lrs.store.migrate import migrate_clickhouse

    settings = Settings()
    report = migrate_clickhouse(settings)
    console.print(f"ClickHouse: applied {report.applied or 'nothing'}; already applied: {len(report.already)}")
    created = ensure_topics(settings)
    console.print(f"Kafka topics created: {created or 'none (all exist)'}")


@app.command()
def serve(
    workers: Annotated[int, typer.Option(help="HTTP worker processes (each a full LRS).")] = 1,
) -> None:
    """Run the HTTP LRS on LRS_HTTP_HOST:LRS_HTTP_PORT."""
    import uvicorn

    settings = Settings()
    uvicorn.run("lrs.app:app_from_env", factory=True, host=settings.http_host, port=settings.http_port,
                workers=workers, log_level="warning", access_log=False)


@app.command()
def worker() -> None:
    """Run a stream worker (Faust); start several to share the topic's partitions."""
    import faust
    from prometheus_client import start_http_server

    from lrs.util.gctune import tune_gc
    from streams.app import create_app

    settings = Settings()
    logging.basicConfig(level=logging.INFO)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr="0.0.0.0")
    faust_app = create_app(settings)
    tune_gc(settings.gc_thresholds)
    faust.Worker(faust_app, loglevel="WARNING", quiet=True).execute_from_commandline()


@credentials_app.command("add")
def credentials_add(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) the key belongs to.")],
    name: Annotated[str, typer.Option(help="Label, e.g. the platform using the key.")] = "",
    scope: Annotated[list[str], typer.Option(help="Scopes (repeatable); default: all.")] = None,  # noqa: B006
) -> None:
    """Create a key/secret pair; the secret is printed once and stored hashed."""
    from lrs.auth.credentials import CredentialError, CredentialStore
    from lrs.store.clickhouse import ClickHouse

    settings = Settings()
    store = CredentialStore(settings, ClickHouse(settings, size=1))
    try:
        key, secret = store.create(tenant, name, tuple(scope or ("all",)))
    except CredentialError as exc:
        _fail(str(exc))
    console.print(f"key:    {key}\nsecret: {secret}\ntenant: {tenant}")


@credentials_app.command("list")
def credentials_list(tenant: Annotated[str, typer.Option(help="Tenant to list.")]) -> None:
    """List a tenant's keys (never secrets)."""
    from lrs.auth.credentials import CredentialStore
    from lrs.store.clickhouse import ClickHouse

    settings = Settings()
    table = Table("key", "name", "scopes", "revoked")
    for c in CredentialStore(settings, ClickHouse(settings, size=1)).list(tenant):
        table.add_row(c["key"], c["name"], ",".join(c["scopes"]), str(c["revoked"]))
    console.print(table)


@credentials_app.command("rotate")
def credentials_rotate(key: str) -> None:
    """Give a key a new secret (the old one stops working within seconds)."""
    from lrs.auth.credentials import CredentialError, CredentialStore
    from lrs.store.clickhouse import ClickHouse

    settings = Settings()
    try:
        secret = CredentialStore(settings, ClickHouse(settings, size=1)).rotate(key)
    except CredentialError as exc:
        _fail(str(exc))
    console.print(f"key:    {key}\nsecret: {secret}")


@credentials_app.command("revoke")
def credentials_revoke(key: str) -> None:
    """Revoke a key for good."""
    from lrs.auth.credentials import CredentialError, CredentialStore
    from lrs.store.clickhouse import ClickHouse

    settings = Settings()
    try:
        CredentialStore(settings, ClickHouse(settings, size=1)).revoke(key)
    except CredentialError as exc:
        _fail(str(exc))
    console.print(f"revoked {key}")


@courses_app.command("import")
def courses_import(
    file: Annotated[str, typer.Argument(help="JSON file: a list of {course_id, name, modules: [{module_id, name}]}.")],
    tenant: Annotated[str, typer.Option(help="Tenant (brand) the courses belong to.")],
) -> None:
    """Declare course structures from a file (replaces each course's previous declaration)."""
    import orjson

    from lrs.courses import StructureError, declare_structure
    from lrs.publisher import Publisher
    from lrs.store.clickhouse import ClickHouse

    settings = Settings()
    publisher = Publisher(settings)
    try:
        with open(file, "rb") as handle:
            courses = declare_structure(settings, ClickHouse(settings, size=1), publisher.send, tenant,
                                        orjson.loads(handle.read()))
    except (OSError, orjson.JSONDecodeError, StructureError) as exc:
        _fail(f"{file}: {exc}")
    finally:
        publisher.close()
    console.print(f"declared {len(courses)} course(s) for {tenant}; their analytics will be recomputed")


@courses_app.command("show")
def courses_show(tenant: Annotated[str, typer.Option(help="Tenant to show.")]) -> None:
    """Print a tenant's current course structures."""
    from lrs.courses import current_structure
    from lrs.store.clickhouse import ClickHouse

    settings = Settings()
    table = Table("course", "position", "module", "name")
    for course in current_structure(ClickHouse(settings, size=1), tenant):
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

    from lrs.store.clickhouse import ClickHouse
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
    from lrs.publisher import Publisher
    from lrs.store.clickhouse import ClickHouse
    from streams.analytics import marker_key, marker_value

    settings = Settings()
    courses = [c for (c,) in ClickHouse(settings, size=1).run("analytics_tenant_courses", {"tenant": tenant})]
    publisher = Publisher(settings)
    try:
        for course_id in courses:
            key, value = marker_key(tenant, course_id), marker_value(tenant, course_id)
            publisher.send(settings.analytics_dirty_topic, key, value)
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
    from lrs.demo.run import run_demo
    from lrs.stack.stack import StackError

    try:
        run_demo(Settings(), learners=learners, tenant=tenant, seed=seed, console=console)
    except StackError as exc:
        _fail(str(exc))


@app.command()
def report(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) to report on.")],
    out: Annotated[str, typer.Option(help="Directory to write report-<tenant>.html into.")] = "reports",
) -> None:
    """Write the dashboards' views (overview, courses, funnels, cohorts) as one self-contained HTML page."""
    from pathlib import Path

    from lrs.report.html import clickhouse_runner, write_report

    settings = Settings()
    path = write_report(clickhouse_runner(settings), tenant, Path(out),
                        session_cap_s=int(settings.analytics_session_cap_s))
    console.print(f"report written: {path.resolve()}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                "help_option_names": []})
def bench(ctx: typer.Context) -> None:
    """Benchmark suite on an isolated stack, side by side with Ralph (options: lrs bench --help)."""
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])  # bench/ lives in the repository, next to lrs/
    if root not in sys.path:
        sys.path.insert(0, root)
    from bench.cli import main as bench_main

    raise typer.Exit(bench_main(ctx.args))



@app.command()
def erase(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) the learner belongs to.")],
    agent: Annotated[str, typer.Option(help='The learner as xAPI Agent JSON, e.g. \'{"mbox": "mailto:a@b.c"}\'.')],
    wait: Annotated[float, typer.Option(help="Seconds to wait for the workers to apply it (0: do not wait).")] = 120,
) -> None:
    """GDPR erasure: remove a learner from the raw table, documents and every derived table."""
    import orjson

    from lrs.erasure import ErasureError, request_erasure, wait_applied
    from lrs.publisher import BrokerUnavailable, Publisher
    from lrs.store.clickhouse import ClickHouse

    settings = Settings()
    try:
        parsed = orjson.loads(agent)
        if not isinstance(parsed, dict):
            raise ErasureError("agent must be a JSON object")
        publisher = Publisher(settings)
        erasure = request_erasure(settings, publisher, tenant, parsed)
        publisher.close()
    except (orjson.JSONDecodeError, ErasureError, BrokerUnavailable) as exc:
        _fail(str(exc))
    console.print(f"erasure {erasure.request_id} accepted for {len(erasure.ifis)} identifier(s)")
    if wait <= 0:
        return
    done = wait_applied(ClickHouse(settings, size=1), erasure, wait)
    if done is None:
        _fail(f"not applied within {wait:.0f}s (are workers running?); it stays queued and will be applied")
    statements, documents = done
    console.print(f"[green]erased[/green]: {statements} statement(s), {documents} document(s); "
                  "the affected courses are being recomputed without them")


if __name__ == "__main__":
    app()
