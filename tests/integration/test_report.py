"""``lrs report`` on a demo cohort sent through the pipeline: a self-contained page whose charts render in headless
Debian Chromium (screenshot not blank, titles in the rendered DOM), with the numbers of the analytics views."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lrs.tools.report.html import clickhouse_runner, write_report
from tests.integration.test_dashboards import Loaded, load_cohort
from tests.support import ROOT, Pipeline, settings_env

pytestmark = pytest.mark.integration

TITLES = ("Brand learning report", "Brand overview", "Active learners per day", "Statements per minute",
          "Courses ranked by completion rate", "At-risk and dropped learners now", "Funnel by module",
          "Completion, pass and certificate conversion", "Time on task per learner", "Daily engagement",
          "Weekly cohort retention", "Engagement by hour of day (UTC)", "Engagement by weekday (UTC)")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars")


@pytest.fixture(scope="module")
def loaded(pipeline: Pipeline) -> Loaded:
    return load_cohort(pipeline, "report", learners=60, seed=21)


@pytest.fixture(scope="module")
def report(pipeline: Pipeline, loaded: Loaded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page written by the real CLI command."""
    out = tmp_path_factory.mktemp("report")
    done = subprocess.run([sys.executable, "-m", "lrs", "report", "--tenant", loaded.tenant, "--out", str(out)],
                          env=settings_env(pipeline.settings), cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = out.glob("report-*.html")
    assert str(path.resolve()) in done.stdout.replace("\n", "")
    return path


def _chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "Debian chromium is missing: scripts/setup.sh installs it (apt-get install chromium)"
    return binary


def test_report_is_self_contained_with_every_view(report: Path, loaded: Loaded) -> None:
    text = report.read_text(encoding="utf-8")
    for title in TITLES:
        assert title in text, title
    for course in loaded.cohort.courses:
        assert f"Course: {course.name}" in text
    # Four course charts + daily + cohort heatmap per course, plus the overview's three.
    assert text.count("<svg") >= 3 + 7 * len(loaded.cohort.courses)
    # Only in-page references: clip paths (url(#id)) and inline images (data: URIs).
    outside = re.search(r"<script|<link|@import|url\((?!#)|(?:src|href)=\"(?!#|data:)", text)
    assert not outside, f"the page must load nothing from elsewhere: {outside}"


def test_report_numbers_are_the_analytics_views(pipeline: Pipeline, loaded: Loaded, report: Path) -> None:
    client = pipeline.clickhouse()
    try:
        started, completed = client.execute("SELECT sum(learners_started), sum(completed) FROM course_summary "
                                            "WHERE tenant = %(t)s", {"t": loaded.tenant})[0]
    finally:
        client.disconnect()
    text = report.read_text(encoding="utf-8")
    assert f"<div class='value'>{started:,}</div><div class='label'>enrolments</div>" in text
    assert f"<div class='value'>{completed:,}</div><div class='label'>completed</div>" in text
    expected = loaded.cohort.expected()
    assert started == sum(e["started"] for e in expected.values())


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    shot = tmp_path / "report.png"
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--screenshot={shot}", "--window-size=1280,2000",
                           report.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000, done.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1280, 2000)
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        non_white = sum(n for n, c in colours if sum(c) < 3 * 245)
    assert len(colours) > 100, f"only {len(colours)} colours: the charts did not render"
    assert non_white > 0.05 * 1280 * 2000, "the screenshot is almost blank"
    # Chart colours (the palette's blue bars) are on screen, not only text.
    assert any(n > 2000 and abs(c[0] - 0x38) < 20 and abs(c[1] - 0x67) < 20 and abs(c[2] - 0xD6) < 20
               for n, c in colours), "no chart bars visible"

    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, "--dump-dom", report.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    for title in TITLES:
        assert title in dom, f"{title!r} not in the rendered page"
    assert dom.count("<svg") == report.read_text(encoding="utf-8").count("<svg")


def test_write_report_for_a_tenant_without_data(pipeline: Pipeline, tmp_path: Path) -> None:
    """A tenant with nothing yet still gets a page (empty charts say so) rather than an error."""
    path = write_report(clickhouse_runner(pipeline.settings), "nobody-yet", tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "Brand learning report: nobody-yet" in text and "no data in this range" in text
