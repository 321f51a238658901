"""The runner of ``lrs bench``: an isolated stack, the selected phases (:mod:`lrs.tools.bench.phases`) in order,
then the table and the JSON. A failing phase is recorded, not fatal."""

from __future__ import annotations

import contextlib
import os
import platform
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from lrs.tools.bench.env import BenchEnv
from lrs.tools.bench.monitor import python_speed_ms
from lrs.tools.bench.phases import PHASES as PHASE_RUNS
from lrs.tools.bench.phases import PROFILE
from lrs.tools.bench.report import Result, build_document, markdown_table, render_table, write_json

PHASES = tuple(PHASE_RUNS)


def checkout_root() -> Path | None:
    """The repository checkout this package is imported from (an editable install), None from an installed wheel.

    Only a checkout has ``docs/bench-results`` beside the package, where a full run records its results.
    """
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "docs" / "bench-results").is_dir() else None


@dataclass
class Options:
    """Sizes and switches of a run (defaults: the whole run without soak in well under 15 minutes)."""

    ingest_statements: int = 30_000
    clients: int = 4
    single_requests: int = 4_000
    single_concurrency: int = 32
    freshness_seconds: float = 30.0
    freshness_load: float = 0.5
    stream_statements: int = 40_000
    query_rows: int = 1_000_000
    query_repeats: int = 10
    analytics_wait_s: float = 180.0
    query_budget_s: float = 10.0
    pages: int = 5
    ralph: bool = True
    ralph_statements: int = 10_000
    ralph_venv: Path = Path(".lrs/bench/ralph-venv")
    soak_minutes: float = 0.0
    soak_load: float = 0.5
    lrs_workers: int = 1
    workers: int = 1
    partitions: int = 6
    max_load_seconds: float = 60.0
    min_requests: int = 100  # requests a measured run sends at least (judged: targets.MIN_RUN_*)
    ingest_repeats: int = 3  # runs per ingest configuration; the rows show the median one (run-to-run spread)
    profile_seconds: float = 0.0
    seed: int = 7
    only: tuple[str, ...] = PHASES
    out_dir: Path = Path(".lrs/bench")
    keep_data: bool = False

    @classmethod
    def quick(cls) -> Options:
        """Tiny sizes for developing the suite itself (numbers are not meaningful; runs shorter than 30 s and
        100 requests are marked short and not judged)."""
        return cls(ingest_statements=2_000, single_requests=300, freshness_seconds=8, stream_statements=3_000,
                   query_rows=20_000, query_repeats=5, pages=2, ralph_statements=1_000, min_requests=10,
                   ingest_repeats=1)


@dataclass
class Suite:
    """One run of the suite against a fresh :class:`BenchEnv`; what every phase gets and adds its rows to.

    A phase reads ``options``, ``env``, ``url`` and ``run_dir``, records rows with :meth:`add`, details in
    ``extra`` and non-fatal failures in ``errors``; ``max_ingest_rate``/``max_stored_rate`` pass the ingest
    phase's best rates to the phases whose load is a share of them.
    """

    options: Options
    console: Console = field(default_factory=Console)
    results: list[Result] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    max_ingest_rate: float = 0.0
    max_stored_rate: float = 0.0
    stored_rates: dict[int, float] = field(default_factory=dict)  # statements per request -> stored rate

    def load_basis(self, per_request: int = 100) -> float:
        """The stored rate an open-loop load of ``per_request``-statement requests is a share of: the rate stored
        with requests of that size (like with like: a share of the x1000 rate sent in requests of 100 can exceed
        what requests of 100 can store), else the best stored or acknowledged rate measured, else 2,000/s."""
        return self.stored_rates.get(per_request) or self.max_stored_rate or self.max_ingest_rate or 2_000.0

    def __post_init__(self) -> None:
        if not self.console.is_terminal:
            self.console = Console(width=150)  # logs and CI: keep the table on one line per row
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.run_dir = (self.options.out_dir / f"run-{self.stamp}").resolve()
        self.env: BenchEnv | None = None
        self.speed_ms: list[float] = []

    # --- driver ----------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run every selected phase, print the table, write the JSON; return the JSON document."""
        started, t0 = datetime.now(UTC), time.perf_counter()
        o = self.options
        try:
            self.speed_ms = [python_speed_ms()]
            self.console.print(f"machine speed: {self.speed_ms[0]} ms for a fixed Python loop (lower is faster)")
            self.console.rule("[bold]lrs bench: starting an isolated stack")
            self.env = BenchEnv(self.run_dir / "state", lrs_workers=o.lrs_workers, partitions=o.partitions)
            self.env.start(workers=o.workers)
            self.console.print(f"stack ready in {time.perf_counter() - t0:.0f}s: LRS {self.env.base_url} "
                               f"({o.lrs_workers} processes), {o.workers} worker(s), {o.partitions} partitions")
            for phase, run in PHASE_RUNS.items():
                if phase in o.only and (phase != "soak" or o.soak_minutes > 0):
                    self._phase(phase, run)
            if o.profile_seconds > 0:
                self._phase("profile", PROFILE)
        except Exception as exc:  # the stack itself failed: still report what there is
            self.errors.append(f"setup: {type(exc).__name__}: {exc}")
            self.console.print(f"[red]setup failed:[/red] {exc}")
        finally:
            if self.env is not None:
                self.console.print("stopping the benchmark stack")
                self.env.close(keep_data=o.keep_data)
        self.speed_ms.append(python_speed_ms())
        machine = {**machine_info(), "python_loop_ms_at_start_and_end": self.speed_ms}
        document = build_document(
            self.results, machine=machine, config=_jsonable(asdict(o)), started_at=started.isoformat(),
            finished_at=datetime.now(UTC).isoformat(), duration_s=time.perf_counter() - t0, errors=self.errors,
            extra={"markdown": markdown_table(self.results), **self.extra})
        paths = [o.out_dir / f"results-{self.stamp}.json"]
        defaults, checkout = Options(), checkout_root()
        if checkout is not None and o.only == defaults.only and o.ingest_statements >= defaults.ingest_statements:
            # Only a full-size run of every phase, from a checkout, replaces the committed reference results.
            paths.append(checkout / "docs" / "bench-results" / "last-results.json")
        write_json(document, paths)
        self.console.print(render_table(self.results, title=f"lrs bench {self.stamp} ({os.cpu_count()} cores)"))
        for error in self.errors:
            self.console.print(f"[red]error:[/red] {error}")
        self.console.print(f"JSON: {' and '.join(map(str, paths))}")
        return document

    def _phase(self, name: str, run: Callable[[Suite], None]) -> None:
        self.console.rule(f"[bold]{name}")
        start = time.perf_counter()
        try:
            run(self)
        except Exception as exc:
            self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            self.console.print(f"[red]{name} failed:[/red] {exc}")
            self.extra.setdefault("tracebacks", {})[name] = traceback.format_exc()[-3000:]
        self.console.print(f"{name} took {time.perf_counter() - start:.0f}s")

    def add(self, result: Result) -> None:
        """Record a row and echo it."""
        self.results.append(result)
        self.console.print(f"  {escape(result.label)}: {result.ours if result.ours is None else round(result.ours, 1)} "
                           f"{result.unit}" + (f" (Ralph {result.ralph:.1f})" if result.ralph else ""))

    @property
    def url(self) -> str:
        """The statements resource of the benchmark stack's LRS."""
        assert self.env is not None
        return f"{self.env.base_url}/xapi/statements"


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gb": mem_gb, "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_end": load}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
