"""Generate queries that share blocks (schemas/queries/analytics_*.sql, learner_aggregates*.sql,
statement_keys_page*.sql) from templates.

The learner state machine, the module order and the slice's base rows are needed by several analytics queries
(the batch queries over ``statements``: the definition the refresh's tables are checked against).
ClickHouse 18.16 has no CTEs and cannot bind ASC/DESC, so the shared blocks (``_*.sql.in``) are pasted into each
query here: one source, identical copies. Run ``python -m schemas.analytics.generate`` after editing a template;
a unit test checks that the shipped files are up to date.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUERIES = HERE.parent / "queries"
EXAMPLE_PARAMS = {
    "tenant": "t", "courses": ["c"], "clock_us": 1000000, "cap_us": 1800000000, "at_risk_us": 259200000000,
    "dropped_us": 604800000000, "active_us": 604800000000,
    "cert_verbs": ["http://id.tincanapi.com/verb/earned"], "cert_pattern": '"type":"(x)"', "version": 1,
}


def render() -> dict[str, str]:
    """File name -> generated query text."""
    block = {name: (HERE / f"_{name}.sql.in").read_text(encoding="utf-8").rstrip()
             for name in ("base", "mo")}
    learners = (HERE / "_learners.sql.in").read_text(encoding="utf-8").rstrip()
    learners = learners.replace("{BASE}", block["base"]).replace("{MO}", block["mo"])
    out = {}
    aggregates = (HERE / "_aggregates.sql.in").read_text(encoding="utf-8").rstrip()
    for template in sorted(HERE.glob("learner_aggregates*.sql.in")):  # the learner rows' read, two key ranges
        # The template: comments, then {AGGREGATES}, then the filter (WHERE ... GROUP BY) of the inner read.
        head, _, where = template.read_text(encoding="utf-8").partition("{AGGREGATES}\n")
        inner = "\n".join("    " + line for line in where.rstrip().splitlines())
        out[template.name.removesuffix(".in")] = head + aggregates.replace("    {FILTER}", inner) + "\n"
    for template in sorted(HERE.glob("analytics_*.sql.in")):
        text = template.read_text(encoding="utf-8")
        text = text.replace("{LEARNERS}", learners).replace("{BASE}", block["base"]).replace("{MO}", block["mo"])
        text = text.replace("{PARAMS}", "-- params: " + json.dumps(EXAMPLE_PARAMS))
        out[template.name.removesuffix(".in")] = text
    out.update(statement_pages())
    return out


# The page query of filtered GETs, per order; the `_one` variant lacks the second agent/activity range checks
# (ClickHouse 18.16 runs an IN subquery even when its OR branch is decided: a few ms each on every GET).
PAGE_VARIANTS = {
    "": "This variant: any filters (statement_keys_page_one_* lacks the and_agent and and_activity checks).",
    "_one": "This variant: no and_agent or and_activity check (page.py picks it when both are empty).",
}


def statement_pages() -> dict[str, str]:
    """``statement_keys_page{variant}_{asc,desc}.sql`` from one template."""
    template = (HERE / "statement_keys_page.sql.in").read_text(encoding="utf-8")
    second = (HERE / "_statement_second_filters.sql.in").read_text(encoding="utf-8")
    out = {}
    for variant, note in PAGE_VARIANTS.items():
        for order, word, sign in (("asc", "ASCENDING", ">"), ("desc", "DESCENDING", "<")):
            text = template.replace("{SECOND_FILTERS}", second if not variant else "")
            text = text.replace("{VARIANT}", note).replace("{DIRECTION}", word).replace("{AFTER}", sign)
            out[f"statement_keys_page{variant}_{order}.sql"] = text.replace("{ORDER}", order.upper())
    return out


def main() -> None:
    """Write every generated query into schemas/queries."""
    for name, text in render().items():
        (QUERIES / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
