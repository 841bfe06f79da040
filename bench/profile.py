"""`python -m bench.profile --home DIR [--models a,b] [--sql FILE ...]`: where the dbt build spends time and memory.

Re-runs the SELECT of dbt models, as compiled by the benchmark's full build (`DIR/dbt/compiled_full_build`), on the
benchmark's warehouse, and reports for each one what ClickHouse measured itself: duration, peak memory
(`memory_usage`), rows read, CPU time, external-sort spills, plus the `EXPLAIN PIPELINE` processors that did the
work (how many sorts, window transforms and joins). Extra SQL files (`--sql`) are profiled the same way, to measure
a proposed rewrite of a model against the original.

chDB keeps no `system.query_log` by default; a chDB engine started with a config file declaring `<query_log>` does
(`file:DIR?config-file=...`), so this module opens the warehouse that way. The query runs with `FORMAT Null`: the
whole result is computed and discarded, which measures the model's SELECT without the table write.
Run it after `python -m bench.run --home DIR`, never while another process holds DIR.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from gogooku.warehouse import lock_holder

DEFAULT_MODELS = (
    "int_daily_bars_adjusted",
    "int_sessions_point_in_time",
    "int_sessions_indicators",
    "fct_daily_features",
)
QUERY_LOG_CONFIG = """<clickhouse>
  <query_log>
    <database>system</database>
    <table>query_log</table>
    <flush_interval_milliseconds>1000</flush_interval_milliseconds>
  </query_log>
</clickhouse>
"""


@contextmanager
def query_log_client(home: Path) -> Iterator[Client]:
    """A chDB client on `home`'s warehouse with system.query_log enabled."""
    data_dir = home / "clickhouse"
    holder = lock_holder(data_dir)
    if holder is not None:
        raise SystemExit(f"bench.profile: {data_dir} is in use by {holder}")
    config = home / "profile" / "query_log.xml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(QUERY_LOG_CONFIG)
    client = clickhouse_connect.get_client(
        interface="chdb", path=f"file:{data_dir.resolve()}", chdb_options={"config-file": str(config)}
    )
    try:
        yield client
    finally:
        client.close()


def compiled_sql(compiled_dir: Path, model: str) -> str:
    matches = list(compiled_dir.rglob(f"{model}.sql"))
    if not matches:
        raise SystemExit(f"bench.profile: no compiled SQL for {model} under {compiled_dir}")
    return matches[0].read_text()


def pipeline_summary(client: Client, sql: str) -> dict[str, int]:
    """Processor counts of `EXPLAIN PIPELINE` (e.g. {"MergeSorting": 4, "Window": 4, "JoiningTransform": 1})."""
    text = client.raw_query(f"EXPLAIN PIPELINE {sql}", fmt="TSVRaw").decode()
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("("):  # "(Window)": the plan step, its processors follow
            continue
        name = re.split(r"[ (]", line, maxsplit=1)[0]
        match = re.search(r"\u00d7\s*(\d+)", line)
        counts[name] += int(match.group(1)) if match else 1
    return dict(counts.most_common())


def profile_query(client: Client, name: str, sql: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    comment = f"bench.profile:{name}:{time.time_ns()}"
    started = time.perf_counter()
    error = None
    try:
        client.raw_query(sql, fmt="Null", settings={"log_comment": comment, **(settings or {})})
    except Exception as exc:  # noqa: BLE001 - a failing variant (e.g. over a memory cap) is a result too
        error = str(exc).strip().splitlines()[0][:500]
    wall = time.perf_counter() - started
    client.command("SYSTEM FLUSH LOGS")
    row = client.query(
        "select query_duration_ms, memory_usage, read_rows, read_bytes, peak_threads_usage, "
        "ProfileEvents['OSCPUVirtualTimeMicroseconds'], ProfileEvents['ExternalSortWritePart'], "
        "ProfileEvents['ExternalProcessingFilesTotal'] "
        "from system.query_log where log_comment = {c:String} and type != 'QueryStart' and query_kind = 'Select' "
        "order by event_time_microseconds desc limit 1",
        parameters={"c": comment},
    ).result_rows
    duration_ms, memory, read_rows, read_bytes, threads, cpu_us, spills, files = row[0] if row else (None,) * 8
    return {
        "query": name,
        "wall_s": wall,
        "duration_s": duration_ms / 1000 if duration_ms is not None else None,
        "memory_usage_bytes": memory,
        "read_rows": read_rows,
        "read_bytes": read_bytes,
        "peak_threads": threads,
        "cpu_s": cpu_us / 1e6 if cpu_us is not None else None,
        "external_sort_parts": spills,
        "external_files": files,
        "pipeline": pipeline_summary(client, sql),
        "settings": settings or {},
        "error": error,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="the benchmark home (python -m bench.run --home)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated dbt models")
    parser.add_argument("--compiled", type=Path, help="compiled SQL directory (default HOME/dbt/compiled_full_build)")
    parser.add_argument("--sql", type=Path, nargs="*", default=[], help="extra SQL files to profile (a rewrite)")
    parser.add_argument("--setting", action="append", default=[], help="a ClickHouse setting NAME=VALUE for all")
    parser.add_argument("--out", type=Path, help="JSON output (default HOME/profile/profile.json)")
    args = parser.parse_args(argv)
    home = args.home.expanduser().resolve()
    compiled = args.compiled or home / "dbt" / "compiled_full_build"
    settings = dict(s.split("=", 1) for s in args.setting)
    queries = [(m, compiled_sql(compiled, m)) for m in args.models.split(",") if m]
    queries += [(path.stem, path.read_text()) for path in args.sql]
    profiles = []
    with query_log_client(home) as client:
        for name, sql in queries:
            print(f"[profile] {name} ...", flush=True)
            profiles.append(profile_query(client, name, sql, settings))
            p = profiles[-1]
            error = f", ERROR {p['error']}" if p["error"] else ""
            print(
                f"[profile] {name}: {p['duration_s'] or 0:.2f}s, memory {(p['memory_usage_bytes'] or 0) / 2**30:.2f} "
                f"GiB, cpu {p['cpu_s'] or 0:.1f}s, pipeline {p['pipeline']}{error}",
                flush=True,
            )
    out = args.out or home / "profile" / "profile.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(profiles, indent=2) + "\n")
    print(f"[profile] written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
