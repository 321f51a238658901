"""The demo cohort generator: deterministic, valid xAPI, realistic drop-off."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from lrs.core.xapi import validate_statements
from lrs.tools.demo.cohort import Cohort, course_structure, generate_cohort
from streams.mapping import map_course_module


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return generate_cohort(learners=1500, seed=11)


def test_deterministic_per_seed(cohort: Cohort) -> None:
    again = generate_cohort(learners=1500, seed=11)
    assert again.statements == cohort.statements
    assert generate_cohort(learners=1500, seed=12).statements != cohort.statements


def test_ids_unique_uuids_and_sorted_in_period(cohort: Cohort) -> None:
    ids = [s["id"] for s in cohort.statements]
    assert len(ids) == len(set(ids))
    assert all(uuid.UUID(i).version == 4 for i in ids[:500])
    stamps = [s["timestamp"] for s in cohort.statements]
    assert stamps == sorted(stamps)
    assert stamps[0] >= "2026-09-01" and stamps[-1] < "2026-10-27"


def test_statements_are_valid_xapi(cohort: Cohort) -> None:
    validate_statements(cohort.statements[::20], version="1.0.3")


def test_every_statement_maps_to_its_course(cohort: Cohort) -> None:
    course_ids = {c.id for c in cohort.courses}
    for statement in cohort.statements[::50]:
        course, _ = map_course_module(statement)
        assert course in course_ids


def test_realistic_funnel(cohort: Cohort) -> None:
    expected = cohort.expected()
    total_started = sum(e["started"] for e in expected.values())
    total_completed = sum(e["completed"] for e in expected.values())
    assert 0.10 <= total_completed / total_started <= 0.22  # about one learner in seven finishes
    for course in cohort.courses:
        e = expected[course.id]
        assert e["started"] > e["completed"] >= e["passed"] >= e["certified"] > 0
        furthest = e["furthest"]
        # The biggest loss is in the first modules.
        assert max(furthest, key=furthest.get) in (0, 1, 2)


def test_expected_agrees_with_a_recount(cohort: Cohort) -> None:
    per_course = Counter(map_course_module(s)[0] for s in cohort.statements)
    completions = Counter(s["object"]["id"] for s in cohort.statements
                          if s["verb"]["id"].endswith("/completed") and s["object"]["id"] in per_course)
    for course_id, e in cohort.expected().items():
        assert per_course[course_id] == e["statements"]
        assert completions[course_id] == e["completed"]


def test_course_structure(cohort: Cohort) -> None:
    structure = course_structure(cohort)
    assert [c["course_id"] for c in structure] == [c.id for c in cohort.courses]
    for course in structure:
        assert [m["position"] for m in course["modules"]] == list(range(1, len(course["modules"]) + 1))
