"""Per-brand dashboard access: one read-only ClickHouse user per brand, limited to its tenant's rows.

``lrs brand add-viewer --tenant T`` (re)creates the brand's viewer ``brand_<T>`` on a modern ClickHouse server:
a row policy ``tenant = 'T'`` on every table and view the dashboards read (the views' underlying tables
included), then ``SELECT`` on exactly those, and nothing else. It writes the Grafana provisioning of the brand's
organisation (its ClickHouse data source as that user, its dashboard provider) and the viewer's password into an
env file that docker-compose.yml passes to Grafana, so no secret lands in the provisioning directory.

Identifiers (user, policy, database and table names) cannot be bound parameters in ``CREATE USER``, ``CREATE ROW
POLICY`` or ``GRANT``: the SQL of ``schemas/queries/brand_acl_*.sql`` has ``{name}`` placeholders that
:func:`render_acl` fills with names checked against strict patterns and backquoted (:func:`quote_identifier`),
while values (the tenant, the password hash, the profile) stay bound parameters.

ClickHouse 18.16 has no row policies (a users.xml ``filter`` is ignored there): the command refuses such a server
(docs/operations.md, "Brand isolation").
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lrs.core.store.queries import migrations, query
from lrs.tools.report.dashboards import BRAND, COURSE, LEARNER, panel_queries

# Tenant names a viewer can be made for: a letter or digit, then letters, digits, '_' or '-' (48 at most). Nothing
# that could end a quoted identifier or string, so the quoting below is a second line of defence, not the only one.
TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}")
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}")  # any identifier render_acl quotes in
VIEWER_PREFIX = "brand_"
# The settings profile of dashboard users (deploy/clickhouse/users.d/grafana.xml): readonly=1, and only the query
# timeout the Grafana plugin sets may change.
VIEWER_PROFILE = "grafana_readonly"
# First release line with every statement used here (CREATE USER OR REPLACE, sha256_hash, row policies on views) and
# access_control_improvements.users_without_row_policies_can_read_rows.
MIN_SERVER_VERSION = (23, 3)
# What a brand's Grafana organisation gets: the brand dashboards, not the operator's (all tenants, Prometheus).
BRAND_DASHBOARDS = (BRAND, COURSE, LEARNER)
BRAND_DASHBOARDS_PATH = "/var/lib/grafana/brand-dashboards"  # mounted by docker-compose.yml

_READS = re.compile(r"\b(ARRAY\s+)?(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_.]*)", re.IGNORECASE)
_VIEW = re.compile(r"CREATE\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s+AS\s+(.*)",
                   re.IGNORECASE | re.DOTALL)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class BrandError(ValueError):
    """A tenant name, server or schema a brand viewer cannot be made for; the message says why and what to do."""


class BadName(BrandError):
    """A tenant, database or table name that cannot become part of an identifier."""


def validate_tenant(tenant: str) -> str:
    """``tenant`` if it matches :data:`TENANT_PATTERN`, else BrandError."""
    if not TENANT_PATTERN.fullmatch(tenant):
        raise BadName(f"tenant {tenant!r} cannot get a dashboard viewer: the name must match "
                         f"{TENANT_PATTERN.pattern} (it becomes part of a ClickHouse user name)")
    return tenant


def viewer_name(tenant: str) -> str:
    """The ClickHouse user (and row policy) name of a brand's dashboards."""
    return VIEWER_PREFIX + validate_tenant(tenant)


def quote_identifier(name: str) -> str:
    """``name`` as a ClickHouse backquoted identifier (backslash and backquote escaped)."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def render_acl(name: str, **identifiers: str) -> str:
    """The SQL of ``schemas/queries/<name>.sql`` with its ``{placeholder}`` identifiers quoted in.

    Every placeholder must be given and every value must be a plain name (checked here too), so no caller can
    put anything but a quoted identifier into the statement.
    """
    sql = query(name).sql
    wanted = set(_PLACEHOLDER.findall(sql))
    if wanted != set(identifiers):
        raise ValueError(f"{name}: placeholders {sorted(wanted)}, given {sorted(identifiers)}")
    for key, value in identifiers.items():
        if not _NAME_PATTERN.fullmatch(value):
            raise ValueError(f"{name}: {key}={value!r} is not a plain name")
    return _PLACEHOLDER.sub(lambda m: quote_identifier(identifiers[m.group(1)]), sql)


def _reads(sql: str) -> set[str]:
    """Tables and views a statement reads: ``FROM x`` and ``JOIN x`` (subqueries start with a parenthesis;
    ``ARRAY JOIN x`` joins a column)."""
    return {name.rsplit(".", 1)[-1] for array, name in _READS.findall(sql) if not array}


def view_definitions() -> dict[str, str]:
    """Plain views of the migrations (not materialized ones): name -> their SELECT."""
    views = {}
    for migration in migrations():
        for statement in migration.statements:
            match = _VIEW.match(statement.strip())
            if match:
                views[match.group(1)] = match.group(2)
    return views


def dashboard_tables() -> list[str]:
    """Every table and view a dashboard query reads, with the tables under those views, sorted.

    Taken from the query files of :func:`lrs.tools.report.dashboards.panel_queries` (panels and variables of all
    dashboards), so a panel that starts reading a new table is covered without touching this module.
    """
    views = view_definitions()
    pending = set().union(*(_reads(query(name).sql) for name in panel_queries()))
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in views:
            pending |= _reads(views[name])
    return sorted(seen)


@dataclass(frozen=True)
class Viewer:
    """A brand's dashboard user: who, for which tenant, in which database, over which tables, with what password."""

    tenant: str
    database: str
    tables: tuple[str, ...]
    password: str

    @property
    def name(self) -> str:
        """The ClickHouse user name."""
        return viewer_name(self.tenant)

    def statements(self) -> list[tuple[str, dict[str, Any]]]:
        """The statements that (re)create the viewer, in order: user, every row policy, then every grant."""
        ids = {"viewer": self.name, "database": self.database}
        out: list[tuple[str, dict[str, Any]]] = [(render_acl("brand_acl_create_user", **ids), {
            "password_sha256": hashlib.sha256(self.password.encode()).hexdigest(), "profile": VIEWER_PROFILE})]
        for table in self.tables:
            out.append((render_acl("brand_acl_row_policy", policy=self.name, table=table, **ids),
                        {"tenant": self.tenant}))
        out += [(render_acl("brand_acl_grant_select", table=table, **ids), {}) for table in self.tables]
        return out

    def drop_statements(self) -> list[tuple[str, dict[str, Any]]]:
        """The statements that remove the viewer: its row policies, then the user (and so its grants)."""
        ids = {"database": self.database}
        out: list[tuple[str, dict[str, Any]]] = [
            (render_acl("brand_acl_drop_row_policy", policy=self.name, table=table, **ids), {})
            for table in self.tables]
        return [*out, (render_acl("brand_acl_drop_user", viewer=self.name), {})]


def new_viewer(tenant: str, database: str, tables: Iterable[str] | None = None) -> Viewer:
    """A viewer of ``tenant`` with a fresh random password (URL-safe, 32 characters)."""
    for name in (database, *(tables or ())):
        if not _NAME_PATTERN.fullmatch(name):
            raise BadName(f"{name!r} is not a plain database or table name")
    return Viewer(validate_tenant(tenant), database, tuple(tables or dashboard_tables()), secrets.token_urlsafe(24))


def server_version(version: str) -> tuple[int, int]:
    """``(major, minor)`` of a ``SELECT version()`` answer such as ``26.8.2.1``."""
    parts = re.findall(r"\d+", version)
    return (int(parts[0]), int(parts[1])) if len(parts) >= 2 else (0, 0)


Execute = Callable[[str, dict[str, Any] | None], list[tuple]]


def check_server(execute: Execute) -> str:
    """The server's version; BrandError if it has no row policies (18.16 ignores even a users.xml filter)."""
    version = execute(query("server_version").sql, None)[0][0]
    if server_version(version) < MIN_SERVER_VERSION:
        raise BrandError(
            f"ClickHouse {version} has no row policies (it ignores a users.xml row filter), so a brand viewer "
            f"would read every brand: brand viewers need ClickHouse >= {'.'.join(map(str, MIN_SERVER_VERSION))} "
            f"(docker-compose.yml; docs/operations.md, Brand isolation)")
    return version


def create_viewer(execute: Execute, viewer: Viewer) -> None:
    """Check the server and the schema, then run :meth:`Viewer.statements` through ``execute(sql, params)``.

    BrandError, before anything is created, if the server has no row policies (ClickHouse before 23.3, e.g.
    18.16) or a table the dashboards read is missing or has no ``tenant`` column.
    """
    check_server(execute)
    found = {row[0] for row in execute(query("brand_tenant_columns").sql,
                                       {"database": viewer.database, "tables": tuple(viewer.tables)})}
    missing = sorted(set(viewer.tables) - found)
    if missing:
        raise BrandError(f"{', '.join(missing)} missing in database {viewer.database} or without a tenant column: "
                         f"run `lrs migrate` first")
    for sql, params in viewer.statements():
        execute(sql, params or None)


def drop_viewer(execute: Execute, viewer: Viewer) -> None:
    """Run :meth:`Viewer.drop_statements` (BrandError first if the server has no row policies)."""
    check_server(execute)
    for sql, params in viewer.drop_statements():
        execute(sql, params or None)


def remove_grafana(tenant: str, provisioning_dir: Path, env_file: Path) -> list[Path]:
    """Delete the brand's provisioning files and password line; the paths removed or changed."""
    changed = []
    for relative in (f"datasources/brand-{validate_tenant(tenant)}.yaml", f"dashboards/brand-{tenant}.yaml"):
        path = provisioning_dir / relative
        if path.exists():
            path.unlink()
            changed.append(path)
    if env_file.exists():
        name = password_variable(tenant) + "="
        lines = env_file.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if not line.startswith(name)]
        if kept != lines:
            env_file.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
            changed.append(env_file)
    return changed


def password_variable(tenant: str) -> str:
    """The environment variable holding a brand viewer's password for Grafana (hex keeps distinct names distinct)."""
    return "GRAFANA_BRAND_PASSWORD_" + validate_tenant(tenant).encode().hex().upper()


def grafana_files(viewer: Viewer, org_id: int, datasource: dict[str, Any]) -> dict[str, str]:
    """Relative path -> text of the brand organisation's Grafana provisioning files.

    ``datasource`` is the operator's ClickHouse data source (dashboards/provisioning/datasources/clickhouse.yaml):
    the brand's copy keeps its uid (the dashboards refer to it) and connection, in organisation ``org_id``, as the
    viewer, with the password read from :func:`password_variable` in Grafana's environment.
    """
    if org_id < 2:
        raise BrandError("a brand needs its own Grafana organisation (id 2 or more): organisation 1 holds the "
                         "operator's data source, which reads every brand")
    source = dict(datasource)
    source.update(orgId=org_id, name=f"ClickHouse ({viewer.tenant})", editable=False, isDefault=True,
                  jsonData={**datasource.get("jsonData", {}), "username": viewer.name,
                            "defaultDatabase": viewer.database},
                  secureJsonData={"password": "${" + password_variable(viewer.tenant) + "}"})
    header = (f"# Brand {viewer.tenant}: written by `lrs brand add-viewer --tenant {viewer.tenant} --grafana-org "
              f"{org_id}`.\n# Grafana organisation {org_id} sees ClickHouse only as {viewer.name} (row policies: "
              f"tenant = '{viewer.tenant}'); docs/operations.md, Brand isolation.\n")
    datasources = {"apiVersion": 1, "datasources": [source]}
    provider = {"apiVersion": 1, "providers": [{
        "name": f"lrs-brand-{viewer.tenant}", "orgId": org_id, "folder": "xAPI LRS", "type": "file",
        "disableDeletion": True, "allowUiUpdates": False, "updateIntervalSeconds": 30,
        "options": {"path": BRAND_DASHBOARDS_PATH}}]}
    dump = lambda data: header + yaml.safe_dump(data, sort_keys=False)  # noqa: E731
    return {f"datasources/brand-{viewer.tenant}.yaml": dump(datasources),
            f"dashboards/brand-{viewer.tenant}.yaml": dump(provider)}


def operator_datasource(provisioning_dir: Path) -> dict[str, Any]:
    """The ClickHouse data source of ``provisioning_dir/datasources/clickhouse.yaml``."""
    path = provisioning_dir / "datasources" / "clickhouse.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return next(d for d in data["datasources"] if d.get("uid") == "clickhouse")
    except (OSError, yaml.YAMLError, KeyError, TypeError, StopIteration) as exc:
        raise BrandError(f"{path}: no ClickHouse data source with uid 'clickhouse' ({exc!r}): pass "
                         f"--provisioning-dir pointing at dashboards/provisioning") from exc


def set_env_line(path: Path, name: str, value: str) -> None:
    """Set ``name=value`` in the env file at ``path`` (created with mode 0600; other lines kept)."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    lines = [line for line in lines if not line.startswith(name + "=")] + [f"{name}={value}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_grafana(viewer: Viewer, org_id: int, provisioning_dir: Path, env_file: Path) -> list[Path]:
    """Write the brand's provisioning files and its password line; the paths written."""
    written = []
    for relative, text in grafana_files(viewer, org_id, operator_datasource(provisioning_dir)).items():
        path = provisioning_dir / relative
        path.write_text(text, encoding="utf-8")
        written.append(path)
    set_env_line(env_file, password_variable(viewer.tenant), viewer.password)
    return [*written, env_file]
