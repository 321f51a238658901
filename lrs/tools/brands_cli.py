"""``lrs brand ...``: per-brand dashboard viewers (lrs/tools/brands.py; docs/operations.md, "Brand isolation")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from lrs.core.config import Settings
from lrs.tools.cli_errors import CliFailure, ExitCode

brand_app = typer.Typer(help="Per-brand dashboard access: a read-only ClickHouse user limited to one tenant's rows, "
                        "and its Grafana organisation.", no_args_is_help=True)
console = Console()

_ProvisioningDir = Annotated[Path, typer.Option(
    help="Grafana provisioning directory (mounted by docker-compose.yml).")]
_EnvFile = Annotated[Path, typer.Option(
    help="Env file Grafana reads the viewers' passwords from (docker-compose.yml), mode 0600.")]
_AdminUrl = Annotated[str, typer.Option(
    envvar="LRS_CLICKHOUSE_ADMIN_URL", show_envvar=True,
    help="DSN of a ClickHouse user with access management (lrs_admin in docker-compose.yml); default: "
    "LRS_CLICKHOUSE_URL.")]
_PrintSql = Annotated[bool, typer.Option(help="Only print the statements; change nothing.")]
PROVISIONING_DIR = Path("dashboards/provisioning")
ENV_FILE = Path("deploy/grafana/brands.env")


def _print_statements(statements: list[tuple[str, dict[str, Any]]]) -> None:
    """The statements as the server would receive them (parameters rendered by clickhouse-driver), ``;``-ended."""
    from clickhouse_driver.util.escape import escape_params

    class _Context:  # what clickhouse-driver's escaping reads of a client
        server_info = None
        settings: dict[str, Any] = {}

    for sql, params in statements:
        console.print((sql % escape_params(params, _Context()) if params else sql) + ";", markup=False,
                      highlight=False, soft_wrap=True)


@contextmanager
def _admin(settings: Settings, clickhouse_url: str) -> Iterator[Callable[[str, dict[str, Any] | None], list[tuple]]]:
    """``execute(sql, params)`` on a client of ``clickhouse_url`` (or the configured DSN)."""
    from lrs.core.store.clickhouse import bind, make_client

    if clickhouse_url:
        settings = settings.model_copy(update={"clickhouse_url": clickhouse_url})
    client = make_client(settings)
    try:
        yield lambda sql, params: client.execute(sql, bind(params)) if params else client.execute(sql)
    finally:
        client.disconnect()


def _failure(exc: Exception) -> CliFailure:
    from lrs.tools.brands import BadName

    return CliFailure(ExitCode.BAD_INPUT if isinstance(exc, BadName) else ExitCode.FAILED, str(exc))


@brand_app.command("add-viewer")
def add_viewer(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) whose dashboards the viewer reads.")],
    grafana_org: Annotated[int | None, typer.Option(
        min=2, help="Id of the brand's Grafana organisation (create it first): write its data source and "
        "dashboard provisioning. Without it only the ClickHouse user is made.")] = None,
    provisioning_dir: _ProvisioningDir = PROVISIONING_DIR,
    env_file: _EnvFile = ENV_FILE,
    clickhouse_url: _AdminUrl = "",
    print_sql: _PrintSql = False,
) -> None:
    """(Re)create a brand's dashboard user: row policies on its tenant, SELECT on the dashboards' tables only.

    A re-run replaces the user: new password, grants and policies as the dashboards need them now.
    """
    from lrs.core.store.queries import query
    from lrs.tools import brands

    settings = Settings()
    try:
        viewer = brands.new_viewer(tenant, settings.clickhouse_database)
        if print_sql:
            _print_statements(viewer.statements())
            return
        with _admin(settings, clickhouse_url) as execute:
            brands.check_server(execute)
            if not execute(query("credentials_list").sql, {"tenant": tenant}):
                raise CliFailure(ExitCode.NOT_FOUND, f"unknown tenant '{tenant}' (it has no credentials): check "
                                 f"the name, or create it with `lrs credentials add --tenant {tenant}`")
            brands.create_viewer(execute, viewer)
        written = brands.write_grafana(viewer, grafana_org, provisioning_dir, env_file) if grafana_org else []
    except brands.BrandError as exc:
        raise _failure(exc) from exc
    console.print(f"user:     {viewer.name}\npassword: {viewer.password}\ntenant:   {tenant}\n"
                  f"tables:   {len(viewer.tables)} (row policy tenant = '{tenant}', SELECT only)", markup=False)
    for path in written:
        console.print(f"wrote {path}", markup=False)
    if written:
        console.print(f"next: `docker compose up -d grafana` (reads {env_file.name}), then add the brand's people "
                      f"to Grafana organisation {grafana_org} as Viewers", markup=False)


@brand_app.command("remove-viewer")
def remove_viewer(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) whose dashboard user to remove.")],
    provisioning_dir: _ProvisioningDir = PROVISIONING_DIR,
    env_file: _EnvFile = ENV_FILE,
    clickhouse_url: _AdminUrl = "",
    print_sql: _PrintSql = False,
) -> None:
    """Drop a brand's dashboard user and its row policies, and its Grafana provisioning files and password."""
    from lrs.tools import brands

    settings = Settings()
    try:
        viewer = brands.new_viewer(tenant, settings.clickhouse_database)
        if print_sql:
            _print_statements(viewer.drop_statements())
            return
        with _admin(settings, clickhouse_url) as execute:
            brands.drop_viewer(execute, viewer)
        changed = brands.remove_grafana(tenant, provisioning_dir, env_file)
    except brands.BrandError as exc:
        raise _failure(exc) from exc
    console.print(f"dropped {viewer.name} and its row policies", markup=False)
    for path in changed:
        console.print(f"removed from {path}" if path == env_file else f"deleted {path}", markup=False)
