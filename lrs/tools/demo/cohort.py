"""A deterministic, realistic brand-learning cohort: courses of ordered modules, learners who mostly start
and rarely finish (about one in seven), quizzes, passes and certificates, as xAPI 1.0.3 statements.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lrs.core.util.timeparse import format_timestamp

ADL = "http://adlnet.gov/expapi/verbs/"
EARNED = "http://id.tincanapi.com/verb/earned"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"
ASSESSMENT_TYPE = "http://adlnet.gov/expapi/activities/assessment"
CERTIFICATE_TYPE = "https://w3id.org/xapi/tla/activity-types/certificate"

CATALOG = (
    ("Brand Onboarding", ("Welcome", "Our Story", "Brand Values", "Voice and Tone", "Visual Identity",
                          "Working Together")),
    ("Product Academy", ("Product Tour", "Core Features", "Advanced Features", "Integrations", "Pricing",
                         "Competitive Landscape", "Demo Skills", "Objection Handling")),
    ("Customer Care Certification", ("Service Mindset", "Listening Skills", "Ticket Handling", "Escalations",
                                     "Difficult Conversations", "Quality Standards", "Final Review")),
    ("Data Privacy Essentials", ("Why Privacy Matters", "Personal Data", "Consent", "Data Subject Rights",
                                 "Incidents")),
    ("Leadership Foundations", ("Leading Yourself", "Feedback", "Coaching", "Delegation", "Running Meetings",
                                "Change", "Hiring", "Performance", "Strategy")),
)
# Per-module probability of dropping out before finishing it: the first modules lose the most learners.
HAZARD = (0.42, 0.32, 0.2, 0.15, 0.15, 0.13, 0.13, 0.13, 0.13)
NO_SHOW = 0.08  # enrolments that launch the course once and never open a module


@dataclass(frozen=True)
class Module:
    """One module of a course, in its declared order."""

    id: str
    name: str
    position: int


@dataclass(frozen=True)
class Course:
    """A course and its ordered modules."""

    id: str
    name: str
    modules: tuple[Module, ...]


@dataclass
class _Truth:
    started: int = 0
    completed: int = 0
    passed: int = 0
    certified: int = 0
    statements: int = 0
    furthest: Counter = field(default_factory=Counter)


@dataclass
class Cohort:
    """The generated cohort and the ground truth the generator knows about it."""

    brand: str
    courses: list[Course]
    statements: list[dict[str, Any]]
    learners: int
    truth: dict[str, _Truth] = field(default_factory=dict)

    def expected(self) -> dict[str, dict[str, Any]]:
        """Per course id: started, completed, passed, certified, furthest module counts, statement count."""
        return {
            course_id: {"started": t.started, "completed": t.completed, "passed": t.passed,
                        "certified": t.certified, "statements": t.statements, "furthest": dict(t.furthest)}
            for course_id, t in self.truth.items()
        }


def _slug(name: str) -> str:
    return "-".join(name.lower().split())


def _activity(aid: str, name: str, kind: str) -> dict[str, Any]:
    return {"objectType": "Activity", "id": aid, "definition": {"name": {"en-US": name}, "type": kind}}


def _verb(name: str, iri: str | None = None) -> dict[str, Any]:
    return {"id": iri or ADL + name, "display": {"en-US": name}}


class _Learner:
    """Emits one learner's statements for one enrolment, keeping time and ids deterministic."""

    def __init__(self, rng: random.Random, actor: dict[str, Any], course: Course, course_obj: dict[str, Any],
                 start: datetime, end: datetime, out: list[dict[str, Any]]) -> None:
        self.rng, self.actor, self.course, self.course_obj = rng, actor, course, course_obj
        self.now, self.end, self.out = start, end, out
        self.registration = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.emitted = 0

    def emit(self, verb: dict[str, Any], obj: dict[str, Any], parent: dict[str, Any] | None = None,
             result: dict[str, Any] | None = None) -> bool:
        """Add a statement at the current time; False once the observed period is over."""
        if self.now >= self.end:
            return False
        context: dict[str, Any] = {"registration": self.registration, "platform": "Demo LMS",
                                   "contextActivities": {"grouping": [self.course_obj]}}
        if parent is not None:
            context["contextActivities"]["parent"] = [parent]
        statement = {"id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), "actor": self.actor,
                     "verb": verb, "object": obj, "context": context, "timestamp": format_timestamp(self.now)}
        if result is not None:
            statement["result"] = result
        self.out.append(statement)
        self.emitted += 1
        self.now += timedelta(seconds=self.rng.randint(40, 420), milliseconds=self.rng.randint(0, 999))
        return True

    def next_session(self, mean_days: float) -> None:
        """Jump to a later session, mostly in working hours."""
        self.now += timedelta(days=self.rng.expovariate(1 / mean_days))
        if not 8 <= self.now.hour < 22:
            self.now = self.now.replace(hour=self.rng.randint(8, 20), minute=self.rng.randint(0, 59))
        if self.now.weekday() >= 5 and self.rng.random() < 0.6:
            self.now += timedelta(days=7 - self.now.weekday())


def _enrolment(learner: _Learner, truth: _Truth, rng: random.Random) -> None:
    course, course_obj = learner.course, learner.course_obj
    learner.emit(_verb("launched"), course_obj)
    learner.emit(_verb("initialized"), course_obj)
    furthest = 0
    modules = course.modules if rng.random() >= NO_SHOW else ()
    for module in modules:
        module_obj = _activity(module.id, module.name, MODULE_TYPE)
        if not learner.emit(_verb("experienced"), module_obj, parent=course_obj):
            break
        furthest = module.position
        for _ in range(rng.randint(1, 3)):
            learner.emit(_verb("experienced"), module_obj, parent=course_obj)
        if rng.random() < HAZARD[module.position - 1]:
            break  # dropped out inside this module
        quiz = _activity(f"{module.id}/quiz", f"{module.name} quiz", ASSESSMENT_TYPE)
        learner.emit(_verb("attempted"), quiz, parent=module_obj)
        for _ in range(rng.randint(2, 4)):
            learner.emit(_verb("answered"), quiz, parent=module_obj, result={"success": rng.random() < 0.8})
        if rng.random() < 0.15:
            learner.emit(_verb("failed"), quiz, parent=module_obj, result={"success": False})
        minutes, seconds = rng.randint(6, 40), rng.randint(0, 59)
        learner.emit(_verb("completed"), module_obj, parent=course_obj,
                     result={"completion": True, "duration": f"PT{minutes}M{seconds}S"})
        learner.next_session(mean_days=2.5)
    else:
        if not modules:
            truth.furthest[0] += 1
            learner.emit(_verb("terminated"), course_obj)
            return
        if learner.emit(_verb("completed"), course_obj, result={"completion": True}):
            truth.completed += 1
            if rng.random() < 0.85:
                raw = rng.randint(70, 100)
                score = {"scaled": raw / 100, "raw": raw, "min": 0, "max": 100}
                if learner.emit(_verb("passed"), course_obj, result={"success": True, "score": score}):
                    truth.passed += 1
                    cert = _activity(f"{course.id}/certificate", f"{course.name} certificate", CERTIFICATE_TYPE)
                    if rng.random() < 0.72 and learner.emit(_verb("earned", EARNED), cert):
                        truth.certified += 1
    truth.furthest[furthest] += 1
    learner.emit(_verb("terminated"), course_obj)


def generate_cohort(*, brand: str = "acme", learners: int = 3000, courses: int = 4, seed: int = 7,
                    start: datetime = datetime(2026, 9, 1, tzinfo=UTC), days: int = 56) -> Cohort:
    """Generate ``learners`` learners of ``brand`` over ``days`` days from ``start`` (deterministic per seed)."""
    rng = random.Random(seed)
    base = f"https://{brand}.example/courses"
    catalog = [
        Course(f"{base}/{_slug(name)}", name,
               tuple(Module(f"{base}/{_slug(name)}/modules/{i}", title, i) for i, title in enumerate(modules, 1)))
        for name, modules in CATALOG[: max(1, min(courses, len(CATALOG)))]
    ]
    end = start + timedelta(days=days)
    statements: list[dict[str, Any]] = []
    truth: dict[str, _Truth] = defaultdict(_Truth)
    for number in range(learners):
        if number % 5 == 4:
            actor = {"objectType": "Agent", "name": f"Learner {number:05d}",
                     "account": {"homePage": f"https://{brand}.example/sso", "name": f"u{number:05d}"}}
        else:
            actor = {"objectType": "Agent", "name": f"Learner {number:05d}",
                     "mbox": f"mailto:learner{number:05d}@{brand}.example"}
        enrolled = rng.sample(catalog, k=min(len(catalog), rng.choices((1, 2, 3), weights=(60, 30, 10))[0]))
        # Start dates lean to the early weeks, so weekly cohorts shrink and recent learners are still active.
        first_day = min(days - 1, int(rng.triangular(0, days, 0)))
        for course in enrolled:
            when = start + timedelta(days=first_day + rng.randint(0, 6), hours=rng.randint(8, 20),
                                     minutes=rng.randint(0, 59))
            if when >= end:
                continue
            before = len(statements)
            learner = _Learner(rng, actor, course, _activity(course.id, course.name, COURSE_TYPE), when, end,
                               statements)
            truth[course.id].started += 1
            _enrolment(learner, truth[course.id], rng)
            truth[course.id].statements += len(statements) - before
    statements.sort(key=lambda s: (s["timestamp"], s["id"]))
    return Cohort(brand=brand, courses=catalog, statements=statements, learners=learners, truth=dict(truth))


def course_structure(cohort: Cohort) -> list[dict[str, Any]]:
    """The courses' declared structure (ordered modules), JSON-ready."""
    return [{"course_id": c.id, "name": c.name,
             "modules": [{"module_id": m.id, "name": m.name, "position": m.position} for m in c.modules]}
            for c in cohort.courses]
