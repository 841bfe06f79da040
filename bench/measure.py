"""Measuring tools of the benchmark: phases timed with their peak memory, and dbt run as a measured subprocess.

Memory is resident set size (RSS). The benchmark's own process is sampled every 20 ms while a phase runs (a
background thread with psutil), so each phase reports its own peak, not the process's lifetime high-water mark. A
dbt subprocess is waited for with `os.wait4`, whose rusage carries that child's own `ru_maxrss` (kernel-exact, no
sampling); the sampler also watches it as a cross-check. While dbt runs, a guard stops that one child (by its
PID) if the machine is about to run out of memory, so a runaway build fails the benchmark instead of waking the
kernel's OOM killer on a shared machine.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

import psutil

from gogooku.settings import DBT_PROJECT_DIR

SAMPLE_EVERY_S = 0.02
MIN_AVAILABLE_BYTES = 4 * 2**30  # a dbt child is stopped when the machine has less memory than this left


class _Background:
    """A daemon thread running `_run` until `stop()`; `_run` waits on `self._stop` between rounds."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        raise NotImplementedError


class RssSampler(_Background):
    """Samples this process's RSS, and the RSS of its live children, on a background thread."""

    def __init__(self) -> None:
        super().__init__("rss-sampler")
        self._proc = psutil.Process()
        self._lock = threading.Lock()
        self._peak_self = 0
        self._peak_children = 0
        self._peak_total = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_EVERY_S)

    def sample(self) -> None:
        rss_self = self._proc.memory_info().rss
        rss_children = 0
        for child in self._proc.children(recursive=True):
            try:
                rss_children += child.memory_info().rss
            except psutil.Error:  # it ended between the listing and the read
                pass
        with self._lock:
            self._peak_self = max(self._peak_self, rss_self)
            self._peak_children = max(self._peak_children, rss_children)
            self._peak_total = max(self._peak_total, rss_self + rss_children)

    def reset(self) -> tuple[int, int, int]:
        """(peak self, peak children, peak of their sum) since the last reset, then start over from now."""
        self.sample()
        with self._lock:
            peaks = (self._peak_self, self._peak_children, self._peak_total)
            self._peak_self = self._peak_children = self._peak_total = 0
        self.sample()
        return peaks


@dataclass
class Phases:
    """Wall time and peak RSS of each named phase, in the order run."""

    sampler: RssSampler
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        """Time the block; the yielded dict collects the phase's own numbers and is stored under `name`."""
        record: dict[str, Any] = {}
        self.sampler.reset()
        rss_before = psutil.Process().memory_info().rss
        started = time.perf_counter()
        print(f"[bench] {name} ...", flush=True)
        try:
            yield record
        finally:
            record["wall_s"] = time.perf_counter() - started
            peak_self, peak_children, peak_total = self.sampler.reset()
            record["rss_before_bytes"] = rss_before
            record["peak_rss_bytes"] = peak_self
            record["peak_children_rss_sampled_bytes"] = peak_children
            record["peak_tree_rss_bytes"] = peak_total
            record["loadavg_1m_after"] = os.getloadavg()[0]
            self.records[name] = record
            print(f"[bench] {name}: {record['wall_s']:.2f}s, peak RSS {peak_self / 2**30:.2f} GiB", flush=True)


def self_max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


def children_max_rss_bytes() -> int:
    """Largest RSS of any waited-for child (and its waited descendants) so far."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


@dataclass
class DbtRun:
    args: list[str]
    returncode: int
    wall_s: float
    max_rss_bytes: int
    run_results: dict[str, Any]
    killed: str | None = None
    output: list[str] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        """Wall time, dbt's own elapsed time, time per node kind and per model, and the child's max RSS."""
        nodes = self.run_results.get("results", [])
        by_kind: dict[str, float] = {}
        models: dict[str, float] = {}
        failed = []
        for node in nodes:
            kind = node["unique_id"].split(".")[0]
            by_kind[kind] = by_kind.get(kind, 0.0) + node.get("execution_time", 0.0)
            if kind == "model":
                models[node["unique_id"].split(".")[-1]] = round(node.get("execution_time", 0.0), 3)
            if node.get("status") not in ("success", "pass"):
                failed.append(f"{node['unique_id']}: {node.get('status')} {node.get('message') or ''}".strip())
        unfinished: list[str] = []
        if not nodes:  # killed, or failed before writing run_results.json: what its output says
            models, unfinished = models_from_output(self.output)
        return {
            "command": "dbt " + " ".join(self.args),
            "returncode": self.returncode,
            "wall_s": self.wall_s,
            "dbt_elapsed_s": self.run_results.get("elapsed_time"),
            "models_s": by_kind.get("model", 0.0),
            "tests_s": by_kind.get("test", 0.0) + by_kind.get("unit_test", 0.0),
            "seeds_s": by_kind.get("seed", 0.0),
            "nodes": len(nodes),
            "model_seconds": dict(sorted(models.items(), key=lambda kv: -kv[1])),
            "unfinished_models": unfinished,
            "failed": failed,
            "killed": self.killed,
            "max_rss_bytes": self.max_rss_bytes,
        }


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(args: list[str], env: dict[str, str], target_path: Path) -> DbtRun:
    """Run `dbt ARGS` in dbt_project/ with `env`; wait with wait4 for the child's exact max RSS.

    dbt writes its target files (manifest, compiled SQL, run_results.json) to `target_path`, not the project's
    target/, so the benchmark never disturbs (or reads) another run's state.
    """
    env = {**env, "DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(target_path.parent / "logs")}
    results_file = target_path / "run_results.json"
    results_file.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [dbt_executable(), *args], cwd=DBT_PROJECT_DIR, env=env, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    guard = MemoryGuard(proc).start()
    lines: list[str] = []
    echo = threading.Thread(target=_echo, args=(proc.stdout, lines), name="dbt-output", daemon=True)
    echo.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        guard.stop()
    echo.join()
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return DbtRun(args, proc.returncode, wall, usage.ru_maxrss * 1024, results, guard.killed, lines)


def _echo(stream: IO[str], lines: list[str]) -> None:
    """Copy dbt's output to ours, keeping the lines (a killed dbt writes no run_results.json)."""
    for line in stream:
        sys.stdout.write(line)
        lines.append(line)
    sys.stdout.flush()


_DONE = re.compile(r"OK created \S+ \S+ model `(\w+)`\.`(\w+)` .*? in ([\d.]+)s")
_STARTED = re.compile(r"START \S+ \S+ model `(\w+)`\.`(\w+)`")


def models_from_output(lines: list[str]) -> tuple[dict[str, float], list[str]]:
    """({model: seconds} of the models dbt reported built, [models started but never reported done])."""
    done: dict[str, float] = {}
    started: list[str] = []
    for line in lines:
        clean = re.sub(r"\x1b\[[0-9;]*m", "", line)
        if match := _DONE.search(clean):
            done[match.group(2)] = float(match.group(3))
        elif match := _STARTED.search(clean):
            started.append(match.group(2))
    return done, [m for m in started if m not in done]


class MemoryGuard(_Background):
    """Kills one child process when the machine runs out of memory, before the kernel's OOM killer picks a victim
    (on a shared machine, possibly someone else's process). Only the given child is ever signalled."""

    def __init__(self, proc: subprocess.Popen, min_available_bytes: int = MIN_AVAILABLE_BYTES) -> None:
        super().__init__("memory-guard")
        self._proc = proc
        self._min = min_available_bytes
        self.killed: str | None = None

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            available = psutil.virtual_memory().available
            if available < self._min and self._proc.poll() is None:
                self.killed = f"killed: {available / 2**30:.2f} GiB of memory left on the machine"
                self._proc.kill()
                return
