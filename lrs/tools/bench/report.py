"""Results of a run: rows with targets, the rich table, and the JSON file (pure: no measuring here)."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.markup import escape
from rich.table import Table

from lrs.tools.bench.stats import min_samples, ratio

SCHEMA_VERSION = 2  # 2: rows carry samples and insufficient (issue 17)
_OPS = {">=": operator.ge, "<": operator.lt, "<=": operator.le, ">": operator.gt}


@dataclass(frozen=True)
class Target:
    """A goal from the issue: ``applies_to`` (our value or the ours/Ralph ratio) ``op`` ``value``."""

    op: Literal[">=", "<", "<=", ">"]
    value: float
    applies_to: Literal["ours", "ratio"] = "ours"
    text: str = ""

    def describe(self, unit: str) -> str:
        """Human form, e.g. ``>= 10,000 statements/s`` or ``>= 20x Ralph``."""
        if self.text:
            return self.text
        if self.applies_to == "ratio":
            return f"{self.op} {self.value:g}x Ralph"
        return f"{self.op} {format_value(self.value, unit)}"

    def met(self, value: float | None) -> bool | None:
        """Whether ``value`` meets the target; None if there is no value."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return bool(_OPS[self.op](value, self.value))


@dataclass
class Result:
    """One row of the report: a metric measured on our LRS and, for side-by-side rows, on Ralph."""

    key: str
    metric: str
    unit: str
    ours: float | None
    ralph: float | None = None
    target: Target | None = None
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    samples: int | None = None  # what a percentile (or a rate) rests on: samples, or requests of the run
    percentile: float | None = None  # set on percentile rows: checked against stats.min_samples
    short: bool = False  # a run below the suite's minimum length (30 s or 100 requests): shown, not judged

    @property
    def insufficient(self) -> bool:
        """A percentile over too few samples, or a run too short to judge."""
        if self.short:
            return True
        return self.percentile is not None and (self.samples or 0) < min_samples(self.percentile)

    @property
    def label(self) -> str:
        """The metric with its sample count, marked when it is not enough to judge."""
        if self.samples is None:
            return self.metric
        what = "requests" if self.percentile is None else "samples"
        text = f"{self.metric} [n={self.samples:,}"
        if self.short:
            text += ", short run: not judged"
        elif self.insufficient and self.percentile is not None:
            text += f", insufficient: a p{self.percentile:g} needs {min_samples(self.percentile):,} {what}"
        return text + "]"

    @property
    def ratio(self) -> float | None:
        """ours / Ralph (for rates: how many times faster we are)."""
        return ratio(self.ours, self.ralph)

    @property
    def met(self) -> bool | None:
        """Target verdict: True, False, or None (no target, or nothing measured)."""
        if self.target is None or self.insufficient:
            return None
        return self.target.met(self.ratio if self.target.applies_to == "ratio" else self.ours)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form of the row."""
        return {
            "key": self.key, "metric": self.metric, "unit": self.unit, "ours": _num(self.ours),
            "ralph": _num(self.ralph), "ratio": _num(self.ratio),
            "target": None if self.target is None else {
                "op": self.target.op, "value": self.target.value, "applies_to": self.target.applies_to,
                "text": self.target.describe(self.unit)},
            "met": self.met, "note": self.note, "samples": self.samples, "insufficient": self.insufficient,
            "details": self.details,
        }


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(float(value), 3)


def format_value(value: float | None, unit: str) -> str:
    """A value with its unit, compactly: ``12,345/s``, ``85.2 ms``, ``312 MB``, ``4.1 %``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit.endswith("/s"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "%":
        return f"{value:+.1f} %"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.2f} {unit}".strip()


def _verdict(met: bool | None) -> str:
    return {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[met]


def render_table(results: Sequence[Result], title: str = "lrs bench") -> Table:
    """The terminal table: metric, ours, Ralph, ratio, target, met?."""
    table = Table("metric", "ours", "Ralph", "ratio", "target", "met?", title=title)
    for r in results:
        table.add_row(escape(r.label), format_value(r.ours, r.unit), format_value(r.ralph, r.unit) if r.ralph else "-",
                      f"{r.ratio:.1f}x" if r.ratio is not None else "-",
                      r.target.describe(r.unit) if r.target else "-", _verdict(r.met))
    return table


def markdown_table(results: Sequence[Result]) -> str:
    """The same table as Markdown (pasted into docs/benchmarks.md and issue notes)."""
    lines = ["| metric | ours | Ralph | ratio | target | met? |", "|---|---|---|---|---|---|"]
    for r in results:
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        lines.append(f"| {r.label} | {format_value(r.ours, r.unit)} | "
                     f"{format_value(r.ralph, r.unit) if r.ralph else '-'} | "
                     f"{f'{r.ratio:.1f}x' if r.ratio is not None else '-'} | "
                     f"{r.target.describe(r.unit) if r.target else '-'} | {met} |")
    return "\n".join(lines)


def build_document(results: Sequence[Result], *, machine: dict[str, Any], config: dict[str, Any],
                   started_at: str, finished_at: str, duration_s: float, errors: Sequence[str] = (),
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole JSON document of a run (``schema`` is bumped whenever its shape changes)."""
    return {
        "schema": SCHEMA_VERSION,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_s": round(duration_s, 1),
        "machine": machine,
        "config": config,
        "results": [r.as_dict() for r in results],
        "summary": {
            "targets": sum(1 for r in results if r.target is not None),
            "met": sum(1 for r in results if r.met is True),
            "unmet": [r.key for r in results if r.met is False],
        },
        "errors": list(errors),
        **(extra or {}),
    }


def write_json(document: dict[str, Any], paths: Sequence[Path]) -> None:
    """Write ``document`` to every path (parents created)."""
    text = json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
