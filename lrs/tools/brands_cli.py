"""``lrs brand ...``: per-brand dashboard viewers (lrs/tools/brands.py; docs/operations.md, "Brand isolation")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from lrs.core.config import Settings
from lrs.tools.cli_errors import CliFailure, ExitCode

brand_app = typer.Typer(help="Per-brand dashboard access: a read-only ClickHouse user limited to one tenant's rows, "
                        "and its Grafana organisation.", no_args_is_help=True)
console = Console()


@brand_app.command("add-viewer")
def add_viewer(
    tenant: Annotated[str, typer.Option(help="Tenant (brand) whose dashboards the viewer reads.")],
    grafana_org: Annotated[int | None, typer.Option(
        min=2, help="Id of the brand's Grafana organisation (create it first): write its data source and "
        "dashboard provisioning. Without it only the ClickHouse user is made.")] = None,
    provisioning_dir: Annotated[Path, typer.Option(
        help="Grafana provisioning directory (mounted by docker-compose.yml).")] = Path("dashboards/provisioning"),
    env_file: Annotated[Path, typer.Option(
        help="Env file Grafana reads the viewer's password from (docker-compose.yml), mode 0600.")]
    = Path("deploy/grafana/brands.env"),
    clickhouse_url: Annotated[str, typer.Option(
        envvar="LRS_CLICKHOUSE_ADMIN_URL", show_envvar=True,
        help="DSN of a ClickHouse user with access management; default: LRS_CLICKHOUSE_URL.")] = "",
    print_sql: Annotated[bool, typer.Option(help="Only print the statements; create nothing.")] = False,
) -> None:
    """(Re)create a brand's dashboard user: row policies on its tenant, SELECT on the dashboards' tables only.

    A re-run replaces the user: new password, grants and policies as the dashboards need them now.
    """
    from clickhouse_driver.util.escape import escape_params

    from lrs.core.store.clickhouse import bind, make_client
    from lrs.core.store.queries import query
    from lrs.tools import brands

    settings = Settings()
    try:
        viewer = brands.new_viewer(tenant, settings.clickhouse_database)
        if print_sql:
            class _Context:  # what clickhouse-driver's escaping reads of a client
                server_info = None
                settings: dict[str, Any] = {}

            for sql, params in viewer.statements():
                console.print((sql % escape_params(params, _Context()) if params else sql) + ";", markup=False,
                              highlight=False, soft_wrap=True)
            return
        if clickhouse_url:
            settings = settings.model_copy(update={"clickhouse_url": clickhouse_url})
        client = make_client(settings)
        try:
            def execute(sql: str, params: dict[str, Any] | None) -> list[tuple]:
                return client.execute(sql, bind(params)) if params else client.execute(sql)

            brands.check_server(execute)
            if not execute(query("credentials_list").sql, {"tenant": tenant}):
                raise CliFailure(ExitCode.NOT_FOUND, f"unknown tenant '{tenant}' (it has no credentials): check "
                                 f"the name, or create it with `lrs credentials add --tenant {tenant}`")
            brands.create_viewer(execute, viewer)
        finally:
            client.disconnect()
        written = brands.write_grafana(viewer, grafana_org, provisioning_dir, env_file) if grafana_org else []
    except brands.BrandError as exc:
        raise CliFailure(ExitCode.BAD_INPUT if isinstance(exc, brands.BadName) else ExitCode.FAILED, str(exc)) from exc
    console.print(f"user:     {viewer.name}\npassword: {viewer.password}\ntenant:   {tenant}\n"
                  f"tables:   {len(viewer.tables)} (row policy tenant = '{tenant}', SELECT only)", markup=False)
    for path in written:
        console.print(f"wrote {path}", markup=False)
    if written:
        console.print(f"next: `docker compose up -d grafana` (reads {env_file.name}), then add the brand's people "
                      f"to Grafana organisation {grafana_org} as Viewers", markup=False)
