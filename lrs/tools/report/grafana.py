"""Query files <-> Grafana SQL: the one scheme that keeps dashboards and the report on the same SQL.

Every ClickHouse panel's SQL lives in ``schemas/queries/dashboard_<panel>.sql`` and uses only bound parameters, so
the report, the tests and ``ClickHouse.run`` execute it as it is. :func:`to_grafana` rewrites it for the
``grafana-clickhouse-datasource`` plugin with these rules (in this order):

=============================================================  ============================================
in the query file                                               in the dashboard's ``rawSql``
=============================================================  ============================================
``X >= toDateTime(%(from_s)s) AND X <= toDateTime(%(to_s)s)``   ``$__timeFilter(X)`` (X a plain column/alias)
``X >= toDate(%(from_date)s) AND X <= toDate(%(to_date)s)``     ``$__dateFilter(X)``
``toDateTime(%(from_s)s)`` / ``toDateTime(%(to_s)s)``           ``$__fromTime`` / ``$__toTime``
``%(interval_s)s``                                              ``$__interval_s``
``%(tenants)s`` (a list, ``IN %(tenants)s``)                    ``(${tenant:sqlstring})`` (multi-value)
``%(tenant)s``, ``%(course)s``, ``%(learner)s``                 ``${tenant:sqlstring}`` ... (quoted, escaped)
``%(session_cap_s)s``                                           ``${session_cap_s}`` (a constant variable)
=============================================================  ============================================

Any other ``%(name)s`` is an error. :func:`expand_grafana` does what Grafana and the plugin do at query time
(variables, then macros), so tests can check that the expanded dashboard SQL is exactly the query file rendered
with the same values, and execute it; ``lrs bench`` times every panel's SQL expanded by it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence

# Parameters that become dashboard template variables, and how Grafana must format them.
STRING_VARIABLES = ("tenant", "course", "learner")
CONSTANT_VARIABLES = ("session_cap_s",)
TIME_PARAMS = ("from_s", "to_s", "from_date", "to_date", "interval_s")

_IDENT = r"([A-Za-z_][\w.]*)"
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(_IDENT + r" >= toDateTime\(%\(from_s\)s\) AND \1 <= toDateTime\(%\(to_s\)s\)"), r"$__timeFilter(\1)"),
    (re.compile(_IDENT + r" >= toDate\(%\(from_date\)s\) AND \1 <= toDate\(%\(to_date\)s\)"), r"$__dateFilter(\1)"),
    (re.compile(r"toDateTime\(%\(from_s\)s\)"), "$__fromTime"),
    (re.compile(r"toDateTime\(%\(to_s\)s\)"), "$__toTime"),
    (re.compile(r"%\(interval_s\)s"), "$__interval_s"),
    (re.compile(r"%\(tenants\)s"), "(${tenant:sqlstring})"),
    *((re.compile(rf"%\({name}\)s"), f"${{{name}:sqlstring}}") for name in STRING_VARIABLES),
    *((re.compile(rf"%\({name}\)s"), f"${{{name}}}") for name in CONSTANT_VARIABLES),
)


class QueryScheme(ValueError):
    """A query file uses a parameter that has no Grafana equivalent."""


def to_grafana(sql: str) -> str:
    """The ``rawSql`` of a panel for the SQL of a ``dashboard_*`` query file (rules in the module docstring)."""
    out = sql
    for pattern, replacement in _RULES:
        out = pattern.sub(lambda m, r=replacement: m.expand(r), out)
    leftover = re.findall(r"%\((\w+)\)s", out)
    if leftover:
        raise QueryScheme(f"parameters without a Grafana equivalent: {sorted(set(leftover))}")
    return out.replace("%%", "%")


def _sqlstring(value: str | Sequence[str]) -> str:
    values = [value] if isinstance(value, str) else list(value)
    return ",".join("'" + v.replace("'", "''") + "'" for v in values)


def _replace_call(sql: str, name: str, render: Callable[[str], str]) -> str:
    """Replace every ``name(args)`` by ``render(args)``; ``args`` may hold balanced parentheses (the plugin's
    macros take an expression, e.g. ``$__timeFilter(toDateTime(intDiv(stored_us, 1000000)))``)."""
    out, pos = [], 0
    while (start := sql.find(name + "(", pos)) >= 0:
        depth, end = 0, -1
        for i in range(start + len(name), len(sql)):
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            if depth == 0:
                end = i
                break
        if end < 0:
            raise ValueError(f"unbalanced parentheses after {name}: {sql[start:][:60]}")
        out += [sql[pos:start], render(sql[start + len(name) + 1:end])]
        pos = end + 1
    out.append(sql[pos:])
    return "".join(out)


def expand_grafana(raw_sql: str, *, start: dt.datetime, end: dt.datetime, interval_s: int,
                   variables: Mapping[str, str | Sequence[str]]) -> str:
    """``raw_sql`` as the ClickHouse server receives it from Grafana for this time range and these variables.

    Grafana interpolates template variables (``${name:sqlstring}``: each value quoted, ``'`` doubled, joined by
    commas; ``${name}``/``$name``: as is), then the plugin expands its macros (``$__timeFilter(c)`` ->
    ``c >= toDateTime(<from>) AND c <= toDateTime(<to>)`` etc., Unix seconds of the range).
    """
    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2)
        if name not in variables:
            raise KeyError(f"dashboard variable {name!r} has no value")
        value = variables[name]
        if fmt == "sqlstring":
            return _sqlstring(value)
        if fmt is not None:
            raise ValueError(f"unsupported variable format {fmt!r}")
        return value if isinstance(value, str) else ",".join(value)

    out = re.sub(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)", variable, raw_sql)
    f, t = int(start.timestamp()), int(end.timestamp())
    fd, td = start.astimezone(dt.UTC).date().isoformat(), end.astimezone(dt.UTC).date().isoformat()
    out = _replace_call(out, "$__timeFilter", lambda c: f"{c} >= toDateTime({f}) AND {c} <= toDateTime({t})")
    out = _replace_call(out, "$__dateFilter", lambda c: f"{c} >= toDate('{fd}') AND {c} <= toDate('{td}')")
    out = out.replace("$__fromTime", f"toDateTime({f})").replace("$__toTime", f"toDateTime({t})")
    out = out.replace("$__interval_s", str(max(int(interval_s), 1)))
    if "$" in out:
        raise ValueError(f"unexpanded macro or variable in: {out[out.index('$'):][:60]}")
    return out


def time_params(start: dt.datetime, end: dt.datetime, interval_s: int) -> dict[str, object]:
    """The bound time parameters of query files for a time range (what the macros stand for)."""
    return {"from_s": int(start.timestamp()), "to_s": int(end.timestamp()),
            "from_date": start.astimezone(dt.UTC).date().isoformat(),
            "to_date": end.astimezone(dt.UTC).date().isoformat(), "interval_s": max(int(interval_s), 1)}
