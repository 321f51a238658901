"""Step of the ``queries`` phase: the analytics recompute of the big tenant, by the stream worker."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from lrs.tools.bench.env import wait_until
from lrs.tools.bench.phases.common import QueryData
from lrs.tools.bench.report import Result

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite, data: QueryData) -> None:
    """``queries.analytics_refresh``: seconds until every course slice of the tenant is recomputed."""
    analytics = refresh_analytics(suite, data.tenant, suite.options.analytics_wait_s)
    data.info["analytics_refresh"] = analytics
    if analytics.get("seconds") is not None:
        suite.add(Result("queries.analytics_refresh", f"analytics recompute of a {data.size} tenant "
                         f"({analytics['courses']} courses, by the worker)", "s", analytics["seconds"],
                         details=analytics))


def refresh_analytics(suite: Suite, tenant: str, timeout: float) -> dict[str, Any]:
    """``lrs analytics refresh`` for ``tenant`` and wait (bounded) until every course slice is computed.

    Rows generated straight into ``statements`` bypass the worker, so the analytics tables the dashboards read
    would otherwise be empty for this tenant.
    """
    env = suite.env
    assert env is not None
    client = env.clickhouse()
    courses = int(client.execute("SELECT uniqExact(course_id) FROM statements WHERE tenant = %(t)s "
                                 "AND course_id != ''", {"t": tenant})[0][0])
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lrs", "analytics", "refresh", "--tenant", tenant],
                          env=env.env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return {"courses": courses, "seconds": None, "error": (done.stdout + done.stderr)[-500:]}

    def computed() -> bool:
        rows = client.execute("SELECT count() FROM analytics_slices FINAL WHERE tenant = %(t)s", {"t": tenant})
        return int(rows[0][0]) >= courses

    try:
        wait_until(computed, timeout, interval=1.0, what="the analytics recompute")
    except RuntimeError as exc:
        return {"courses": courses, "seconds": None, "error": str(exc)}
    return {"courses": courses, "seconds": round(time.perf_counter() - start, 1)}
