"""Resident memory (RSS) of the stack's processes, sampled in a background thread (psutil, else /proc)."""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from lrs.tools.bench.stats import growth, late_growth

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children_proc(pid: int) -> list[int]:
    """Descendants of ``pid`` from /proc (used when psutil is missing)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_rss_mb(pid: int) -> float:
    """RSS in MB of ``pid`` plus all its descendants (e.g. uvicorn's worker processes); 0 if gone."""
    try:
        import psutil

        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total / 1e6
    except ImportError:
        total = 0
        for p in [pid, *_children_proc(pid)]:
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        return total / 1e6


class PeriodicSampler:
    """Calls :meth:`sample` with the seconds since the start every ``interval`` seconds, in a background thread,
    from entering a ``with`` block until leaving it."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def sample(self, now: float) -> None:
        """Take one sample at ``now`` (seconds since the start)."""
        raise NotImplementedError

    def _run(self) -> None:
        start = time.monotonic()
        while True:
            self.sample(round(time.monotonic() - start, 1))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class RssSampler(PeriodicSampler):
    """Samples the RSS of named process trees every ``interval`` seconds until stopped."""

    def __init__(self, pids: Callable[[], dict[str, int]], interval: float = 5.0) -> None:
        super().__init__(interval)
        self._pids = pids
        self.samples: dict[str, list[tuple[float, float]]] = {}

    def sample(self, now: float) -> None:
        """Every process tree's RSS (MB) now."""
        for name, pid in self._pids().items():
            self.samples.setdefault(name, []).append((now, round(tree_rss_mb(pid), 1)))

    def report(self) -> dict[str, dict[str, Any]]:
        """Per process: start/end/max RSS (MB), growth after warm-up, and the samples."""
        out = {}
        for name, series in self.samples.items():
            values = [v for _, v in series]
            out[name] = {"start_mb": values[0], "end_mb": values[-1], "max_mb": max(values),
                         "growth": growth(values), "late_growth": late_growth(values), "samples": series}
        return out


# What a worker's metrics say about its state, sampled next to its RSS (streams/metrics.py).
INTAKE = "lrs_worker_sink_queued_bytes"
ROUNDS = "lrs_worker_analytics_round_seconds"
PAUSED = "lrs_worker_analytics_paused_seconds_total"


def worker_state(text: str) -> dict[str, float]:
    """From a worker's Prometheus page: its sink intake's bytes, the analytics rounds so far (count and seconds)
    and the seconds the refresh paused for the sink."""
    from prometheus_client.parser import text_string_to_metric_families

    state = {"intake_bytes": 0.0, "rounds": 0.0, "round_s": 0.0, "paused_s": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == INTAKE:
                state["intake_bytes"] = sample.value
            elif sample.name == PAUSED:
                state["paused_s"] = sample.value
            elif sample.name == f"{ROUNDS}_count" and sample.labels.get("step") == "round":
                state["rounds"] = sample.value
            elif sample.name == f"{ROUNDS}_sum" and sample.labels.get("step") == "round":
                state["round_s"] = sample.value
    return state


def quarters(samples: list[tuple[float, dict[str, float]]], limit_bytes: int) -> list[dict[str, float]]:
    """Per quarter of a worker's samples (time, :func:`worker_state`): the share of samples whose sink intake held
    at least half its limit (the sink behind), the mean analytics round, and the seconds the refresh paused."""
    out = []
    n = len(samples)
    for q in range(4):
        part = samples[q * n // 4:(q + 1) * n // 4 + 1]  # each quarter's first sample is the last one's end
        if len(part) < 2:
            continue
        first, last = part[0][1], part[-1][1]
        rounds = last["rounds"] - first["rounds"]
        out.append({"behind_share": round(sum(s["intake_bytes"] >= limit_bytes / 2 for _, s in part[1:])
                                          / (len(part) - 1), 3),
                    "rounds": int(rounds),
                    "mean_round_s": round((last["round_s"] - first["round_s"]) / rounds, 2) if rounds else 0.0,
                    "paused_s": round(last["paused_s"] - first["paused_s"], 1)})
    return out


class WorkerStateSampler(PeriodicSampler):
    """Samples each worker's :func:`worker_state` from its metrics endpoint every ``interval`` seconds until
    stopped: why a worker's RSS moved (a sink at its intake's bound holds a batch decoded ahead besides the one
    written) shows next to the RSS."""

    def __init__(self, urls: Callable[[], dict[str, str]], interval: float = 5.0) -> None:
        super().__init__(interval)
        self._urls = urls
        self.samples: dict[str, list[tuple[float, dict[str, float]]]] = {}

    def sample(self, now: float) -> None:
        """Every worker's state now; a worker that does not answer (restarting) leaves a gap."""
        import httpx

        with httpx.Client(timeout=5.0) as client:
            for name, url in self._urls().items():
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    state = worker_state(client.get(url).raise_for_status().text)
                    self.samples.setdefault(name, []).append((now, state))

    def report(self, limit_bytes: int) -> dict[str, dict[str, Any]]:
        """Per worker: its :func:`quarters` and the samples."""
        return {name: {"quarters": quarters(series, limit_bytes), "samples": series}
                for name, series in self.samples.items()}


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree_cpu(pid: int) -> tuple[float, float, int]:
    """``(user + system seconds, system seconds, minor page faults)`` of ``pid`` and its live descendants so far
    (zeros if gone).

    The system share and the page faults tell kernel work (fresh memory being zeroed, files created) from the
    process's own: on the bench machine a third of ClickHouse's CPU was the kernel's.
    """
    total, system, faults = 0.0, 0.0, 0
    for p in [pid, *_children_proc(pid)]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
            system += int(fields[12]) / CLOCK_TICKS
            faults += int(fields[7])  # minflt
    return total, system, faults


class CpuMeter:
    """CPU seconds each named process tree (and this process, the load client) used inside a ``with`` block.

    Tells where the 2 cores went during a run, which throughput alone does not: a rate can fall because
    another process took the cores.
    """

    def __init__(self, pids: Callable[[], dict[str, int]]) -> None:
        self._pids = pids
        self._start: dict[str, tuple[float, float, int]] = {}
        # set by settle: where the run's work ended
        self._end: tuple[float, dict[str, tuple[float, float, int]]] | None = None
        self.used_s: dict[str, float] = {}
        self.system_s: dict[str, float] = {}  # of used_s, the kernel's share
        self.page_faults: dict[str, int] = {}
        self.wall_s = 0.0
        self.settled_s: float | None = None

    def _read(self) -> dict[str, tuple[float, float, int]]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return {**{name: tree_cpu(pid) for name, pid in self._pids().items()},
                "bench client": (own.ru_utime + own.ru_stime, own.ru_stime, own.ru_minflt)}

    def __enter__(self) -> CpuMeter:
        self._wall = time.monotonic()
        self._start = self._read()
        return self

    def settle(self, quiet_cores: float = 0.1, interval_s: float = 1.0, quiet_intervals: int = 2,
               max_s: float = 60.0) -> float | None:
        """Wait (inside the ``with`` block) until the servers are idle again, and end the measured window where
        their last busy interval ended; the seconds that took, or None if they stayed busy ``max_s``.

        A run's statements go on costing CPU after they are stored: ClickHouse merges the parts their inserts
        wrote, the workers refresh the analytics. Counted until idle, that work is charged to the run that caused
        it, not to the next run, which then starts on a quiet machine (like with like). ``quiet_cores``: the
        server processes' (not the load client's) summed use below which an interval counts as idle.
        """
        start = time.monotonic()
        last = (start, self._read())
        quiet: list[tuple[float, dict[str, tuple[float, float, int]]]] = []  # readings since the servers went idle
        while time.monotonic() - start < max_s:
            time.sleep(interval_s)
            now = (time.monotonic(), self._read())
            busy = sum(now[1][n][0] - last[1].get(n, now[1][n])[0] for n in now[1] if n != "bench client")
            quiet = [*quiet, last] if busy / (now[0] - last[0]) < quiet_cores else []
            last = now
            if len(quiet) >= quiet_intervals:
                self._end = quiet[0]
                self.settled_s = round(quiet[0][0] - start, 2)
                return self.settled_s
        return None

    def __exit__(self, *exc: object) -> None:
        at, end = self._end or (time.monotonic(), self._read())
        self.wall_s = at - self._wall
        zero = (0.0, 0.0, 0)
        self.used_s = {name: round(end[name][0] - self._start.get(name, zero)[0], 2) for name in end}
        self.system_s = {name: round(end[name][1] - self._start.get(name, zero)[1], 2) for name in end}
        self.page_faults = {name: end[name][2] - self._start.get(name, zero)[2] for name in end}

    def report(self, statements: int) -> dict[str, Any]:
        """Seconds and cores used per process, and CPU milliseconds per 1,000 statements; of those, the kernel's
        (system) milliseconds, and the minor page faults (fresh memory pages touched) per 1,000 statements."""
        per_k = 1000 / statements if statements else 0.0
        total = sum(self.used_s.values())
        return {"wall_s": round(self.wall_s, 2), "total_cpu_s": round(total, 2),
                "cpu_ms_per_1000_statements": round(total * per_k * 1000, 1) if statements else None,
                "processes": {name: {"cpu_s": used, "cores": round(used / self.wall_s, 2) if self.wall_s else 0.0,
                                     "cpu_ms_per_1000_statements": round(used * per_k * 1000, 1),
                                     "system_ms_per_1000_statements": round(self.system_s.get(name, 0.0) * per_k * 1000,
                                                                            1),
                                     "page_faults_per_1000_statements": round(self.page_faults.get(name, 0) * per_k)}
                              for name, used in sorted(self.used_s.items(), key=lambda kv: -kv[1])}}


def python_speed_ms(repeats: int = 5) -> float:
    """Best time (ms) of a fixed pure-Python loop: this machine's single-core speed, to compare runs by.

    The shared machines differ by several times in speed from one session to the next; rates from runs
    whose figures here differ a lot should be compared through their ratios, not directly.
    """
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 1)


def machine_now(repeats: int = 3) -> dict[str, Any]:
    """The machine's speed and load right now, kept with every measured run (the machine is shared)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"python_loop_ms": python_speed_ms(repeats), "load_average": [round(v, 1) for v in load] if load else None}


# ClickHouse's CPU per kind of query (its first words, whitespace folded) over a time window, from the query log
# the bench's server keeps for every query (Settings.clickhouse_log_queries). OSCPUVirtualTimeMicroseconds sums a
# query's threads, materialized views fed by an insert included.
QUERY_CPU_US = "arrayElement(ProfileEvents.Values, indexOf(ProfileEvents.Names, 'OSCPUVirtualTimeMicroseconds'))"
# A kind of query is its first 70 characters with every run of digits as `?` and a list of them as `?...`: a query
# whose numbers come first (stored_keys: `key IN (6109237116777936803, ...)`) is one kind, not one per call.
_CPU_BY_QUERY_SQL = (
    "SELECT substring(replaceRegexpAll(replaceRegexpAll(replaceRegexpAll(query, '[[:space:]]+', ' '), '[0-9]+', '?'), "
    "'[?](, [?])*', '?...'), 1, 70) AS q, count(), "
    f"sum({QUERY_CPU_US}) AS cpu_us, sum(read_rows), sum(written_rows) FROM system.query_log "
    "WHERE type = 2 AND event_date >= toDate(toDateTime(%(start)s)) AND event_time >= toDateTime(%(start)s) "
    "AND event_time < toDateTime(%(end)s) GROUP BY q ORDER BY cpu_us DESC"
)


# The background merges per table over a time window, from system.part_log (the stack's server keeps it):
# merges report their duration, not their CPU, so this says where the background time goes, not its CPU share.
# Event type 2 is a merge (named MERGE_PARTS on 18.16, MergeParts on later servers).
_MERGES_BY_TABLE_SQL = (
    "SELECT database, table, count(), sum(duration_ms), sum(rows), sum(size_in_bytes) FROM system.part_log "
    "WHERE CAST(event_type, 'Int8') = 2 AND event_date >= toDate(toDateTime(%(start)s)) "
    "AND event_time >= toDateTime(%(start)s) AND event_time < toDateTime(%(end)s) "
    "GROUP BY database, table ORDER BY sum(duration_ms) DESC"
)


def clickhouse_cpu_split(client: Any, start_s: float, end_s: float, server_cpu_s: float | None,
                         top: int = 15) -> dict[str, Any]:
    """Where the ClickHouse server's CPU went between ``start_s`` and ``end_s`` (Unix seconds, whole seconds
    inside the window): per kind of query, and the rest (``server_cpu_s`` minus the queries: background merges,
    mutations and log flushes), with the merges' time per table (``merges_by_table``, from system.part_log).
    Needs the server to log every query."""
    client.execute("SYSTEM FLUSH LOGS")
    window = {"start": int(start_s) + 1, "end": int(end_s)}
    rows = client.execute(_CPU_BY_QUERY_SQL, window)
    queries_s = sum(int(r[2]) for r in rows) / 1e6
    out: dict[str, Any] = {
        "window_s": int(end_s) - int(start_s) - 1,
        "queries_cpu_s": round(queries_s, 2),
        "by_query": [{"query": q, "count": int(n), "cpu_ms": round(int(cpu) / 1000), "read_rows": int(r),
                      "written_rows": int(w)} for q, n, cpu, r, w in rows[:top]],
    }
    if server_cpu_s is not None and end_s > start_s:
        # The query window is the whole seconds inside the run: the server's CPU scaled to it.
        server_s = server_cpu_s * out["window_s"] / (end_s - start_s)
        out["server_cpu_s"] = round(server_s, 2)
        out["background_cpu_s"] = round(max(0.0, server_s - queries_s), 2)
    try:
        merges = client.execute(_MERGES_BY_TABLE_SQL, window)
    except Exception as exc:  # noqa: BLE001 (a server without part_log: the split still says the rest)
        out["merges_by_table"] = {"error": str(exc)[:200]}
    else:
        out["merges_by_table"] = [{"table": f"{db}.{table}", "merges": int(n), "ms": int(ms), "rows": int(rows),
                                   "bytes": int(size)} for db, table, n, ms, rows, size in merges[:top]]
    return out
