"""Pure statistics helpers: percentiles and latency summaries (no timing, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks.

    Same definition as ``numpy.percentile(..., method="linear")``; ``nan`` for an empty sequence.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


@dataclass(frozen=True)
class Summary:
    """Distribution of a set of samples, in the samples' unit (the suite uses milliseconds)."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with values rounded to 0.01."""
        return {k: (round(v, 2) if isinstance(v, float) and math.isfinite(v) else v) for k, v in asdict(self).items()}


def summarize(values: Sequence[float]) -> Summary:
    """p50/p90/p99/max/mean of ``values`` (all ``nan`` if there are none)."""
    if not values:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan)
    return Summary(count=len(values), p50=percentile(values, 50), p90=percentile(values, 90),
                   p99=percentile(values, 99), max=float(max(values)), mean=float(sum(values) / len(values)))


def rate(count: int, seconds: float) -> float:
    """Events per second; 0 when no time passed."""
    return count / seconds if seconds > 0 else 0.0


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """``ours / theirs`` or None when either is missing or ``theirs`` is zero."""
    if ours is None or theirs is None or not theirs or math.isnan(ours) or math.isnan(theirs):
        return None
    return ours / theirs


def growth(samples: Sequence[float], warmup_fraction: float = 0.1) -> float:
    """Relative growth of a series (e.g. RSS): last sample vs the first sample after the warm-up share.

    0.05 means the series ended 5 % above where it stood after warm-up; ``nan`` with fewer than 2 samples.
    """
    if len(samples) < 2:
        return math.nan
    start_index = min(int(len(samples) * warmup_fraction), len(samples) - 2)
    start = samples[start_index]
    return (samples[-1] - start) / start if start else math.nan


def late_growth(samples: Sequence[float]) -> float:
    """Relative growth over the second half of a series: median of the last quarter vs median of the second.

    A leak grows all along and shows here; a process that fills its caches and pools during the first
    quarter and then stays level shows about 0, and so does one that swings around a level (medians).
    ``nan`` with fewer than 4 samples.
    """
    if len(samples) < 4:
        return math.nan
    quarter = len(samples) // 4
    second = percentile(samples[quarter:2 * quarter], 50)
    last = percentile(samples[len(samples) - quarter:], 50)
    return (last - second) / second if second else math.nan


def min_samples(q: float) -> int:
    """Samples a ``q``-th percentile needs to rest on: at least 10 beyond it (p50: 20, p90: 100, p99: 1,000).

    With fewer, the percentile is one of the few largest samples (a p99 of 300 samples is their 3rd largest)
    and says little about the tail; rows print such a value marked as insufficient and judge no target on it.
    """
    if not 0 <= q < 100:
        raise ValueError(f"percentile must be within 0..100 (exclusive), got {q}")
    return math.ceil(round(10 / (1 - q / 100), 6))


def sufficient(count: int, q: float) -> bool:
    """Whether ``count`` samples are enough for the ``q``-th percentile (see :func:`min_samples`)."""
    return count >= min_samples(q)


class LatencyRecorder:
    """Latencies (ms) of a load run: exact samples for percentiles, and an HDR histogram when available.

    The exact list keeps percentiles identical to :func:`percentile` (the suite's runs hold at most a few
    hundred thousand samples); the HDR histogram (PyPI ``hdrhistogram``, the dev extra; 1 us .. 1 h, 3
    significant digits) is written into the JSON in its standard compressed encoding, so other HDR tools can
    read and merge a run's distribution. Without the package only the exact samples are kept.
    """

    def __init__(self) -> None:
        self.values: list[float] = []
        try:
            from hdrh.histogram import HdrHistogram
        except ImportError:  # an installed wheel without the dev extra
            self.histogram = None
        else:
            self.histogram = HdrHistogram(1, 3_600_000_000, 3)

    def record(self, ms: float) -> None:
        """Record one latency in milliseconds."""
        self.values.append(ms)
        if self.histogram is not None:
            self.histogram.record_value(max(1, min(3_600_000_000, round(ms * 1000))))

    def __len__(self) -> int:
        return len(self.values)

    def summary(self) -> Summary:
        """The exact p50/p90/p99/max/mean."""
        return summarize(self.values)

    def as_dict(self) -> dict[str, Any]:
        """Summary with the sample count and whether each percentile rests on enough samples, plus the HDR
        encoding (None without the package)."""
        s = self.summary()
        return {**s.as_dict(), "p99_sufficient": sufficient(s.count, 99), "p99_needs": min_samples(99),
                "hdr": self.histogram.encode().decode() if self.histogram is not None and s.count else None}


def median_run(runs: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """The run whose ``key`` is the median (the lower one of an even count): reported whole, so that its figures
    belong together."""
    if not runs:
        raise ValueError("no runs")
    return sorted(runs, key=lambda r: r[key])[(len(runs) - 1) // 2]
