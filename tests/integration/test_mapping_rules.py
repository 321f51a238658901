"""Per-tenant course mapping rules: the same statement maps by each tenant's own activity types."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT, Pipeline, statement, wait_until

PROGRAM = "https://brand.example.com/types/program"
CHAPTER = "https://brand.example.com/types/chapter"


def _statement() -> dict:
    body = statement(activity="https://brand.example.com/chapters/3")
    body["object"]["definition"] = {"type": CHAPTER}
    body["context"] = {"contextActivities": {
        "parent": [{"id": "https://brand.example.com/programs/leadership", "definition": {"type": PROGRAM}}],
        "grouping": [{"id": "https://brand.example.com/catalog"}]}}
    return body


def _mapped(pipeline: Pipeline, tenant: str) -> tuple[str, str] | None:
    client = pipeline.clickhouse()
    try:
        rows = client.execute("SELECT course_id, module_id FROM statements WHERE tenant = %(t)s", {"t": tenant})
        return rows[0] if rows else None
    finally:
        client.disconnect()


def _cli(pipeline: Pipeline, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "lrs", "courses", "rules", *args], env=pipeline.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_each_tenant_maps_with_its_own_rules(pipeline: Pipeline) -> None:
    custom, custom_http = pipeline.new_tenant()
    default, default_http = pipeline.new_tenant()
    assert "(default)" in _cli(pipeline, "--tenant", custom)
    shown = _cli(pipeline, "--tenant", custom, "--course-type", PROGRAM, "--module-type", CHAPTER)
    assert PROGRAM in shown and CHAPTER in shown

    assert custom_http.post("/xapi/statements", json=_statement()).status_code == 200
    assert default_http.post("/xapi/statements", json=_statement()).status_code == 200
    wait_until(lambda: _mapped(pipeline, custom) and _mapped(pipeline, default), 30, what="both statements stored")
    assert _mapped(pipeline, custom) == ("https://brand.example.com/programs/leadership",
                                         "https://brand.example.com/chapters/3")
    # Defaults: no ADL course type anywhere -> the first grouping activity; no ADL module type -> no module.
    assert _mapped(pipeline, default) == ("https://brand.example.com/catalog", "")

    # The analytics slice follows the same rules.
    def courses(tenant: str) -> set[str]:
        client = pipeline.clickhouse()
        try:
            return {r[0] for r in client.execute("SELECT course_id FROM course_summary WHERE tenant = %(t)s",
                                                 {"t": tenant})}
        finally:
            client.disconnect()

    wait_until(lambda: courses(custom) == {"https://brand.example.com/programs/leadership"}, 60,
               what="the custom tenant's course in the analytics")
    assert "(default)" in _cli(pipeline, "--tenant", custom, "--reset")
