"""`make bench` / `python -m bench.run [--codes N] [--years Y] [--home DIR]`: the full-market benchmark.

On a fresh embedded warehouse of its own (`--home`, default `$GOGOOKU_HOME/bench`; never the project's warehouse):

1. generate a synthetic market (default 4,000 codes x 10 years, ~9M daily bars) and land it straight into
   `jquants_raw`, committed in `_load_log`, holding back the last trading day;
2. `dbt build --select +fct_daily_features --full-refresh` (models and their tests), timed, with dbt's max RSS;
3. the polars reference of the contract's core features (bench/reference.py): read as Arrow, compute, write back;
   the headline ratio is (dbt build time / polars reference time);
4. Feast: apply and materialize the history's last ttl window;
5. land the held-back day, then the daily refresh: `dbt build --select +fct_daily_features --vars` with the day's
   window, as the Dagster daily job runs it;
6. Feast materialization of that one day; online lookups of 100 codes (`realtime_v1`), p50/p99 over repeats;
7. agreement of the reference with the dbt mart on every core column (a sample of codes at full scale).

Writes `bench/results.json` and `bench/RESULTS.md` (a markdown table of the same numbers; README links it).
Targets on the 2-core machine: build <= 1.5x the polars reference, incremental refresh < 5 s of dbt time,
peak memory < 8 GiB.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from bench import market as mk
from bench.measure import Phases, RssSampler, children_max_rss_bytes, run_dbt, self_max_rss_bytes
from bench.reference import CORE_COLUMNS, REFERENCE_TABLE, run_reference
from gogooku.settings import DBT_SKIP_UNIT_TESTS, REPO_ROOT, gogooku_home

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
SELECT = "+fct_daily_features"
BUILD = ("build", "--select", SELECT, *DBT_SKIP_UNIT_TESTS)  # the full and the incremental build
GIB = 2**30
TARGETS = {"build_ratio_max": 1.5, "incremental_dbt_s_max": 5.0, "peak_memory_bytes_max": 8 * GIB}
# dbt models doing the work the polars reference does (from adjusted prices to the feature mart).
FEATURE_MODELS = ("int_sessions_point_in_time", "int_sessions_indicators", "fct_daily_features")
AGREEMENT_TOLERANCE = 1e-6
ZERO_FLOOR = 1e-3  # relative differences are taken against max(|mart value|, ZERO_FLOOR x the column's mean |value|)


class BenchFailed(RuntimeError):
    """A step failed; the results measured so far are still written."""


def default_home() -> Path:
    return gogooku_home() / "bench"


def prepare_home(home: Path) -> Path:
    """A fresh benchmark home: its warehouse, Feast and dbt state are removed. Refuses the project's own home."""
    home = home.expanduser().resolve()
    protected = {gogooku_home().resolve(), REPO_ROOT.resolve(), (REPO_ROOT / ".gogooku").resolve()}
    if home in protected or home == Path(home.anchor):
        raise SystemExit(f"bench: refusing to use {home} as the benchmark home (it would wipe a real warehouse)")
    for name in ("clickhouse", "feast", "dbt"):
        shutil.rmtree(home / name, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    return home


# --- the steps that touch Feast -------------------------------------------------------------------------------------


def feast_materialize() -> dict[str, Any]:
    from ml.feature_store import materialize

    result = materialize()
    return {
        "end": result["end"],
        "seconds": result["seconds"],
        "views": {
            name: {k: v for k, v in view.items() if k in ("start", "end", "entities", "seconds", "skipped")}
            for name, view in result["views"].items()
        },
    }


def online_lookups(codes: list[str], repeats: int, service: str = "realtime_v1") -> dict[str, Any]:
    """Latency of `get_online_features` for `codes` on a warm store (after 3 warm-up calls)."""
    from ml.feature_store import feature_store, online_features

    started = time.perf_counter()
    cold = online_features(codes, service)  # the helper a caller uses: builds the store, reads the registry
    cold_ms = (time.perf_counter() - started) * 1000
    with feature_store() as store:
        features = store.get_feature_service(service)
        rows = [{"code": c} for c in codes]
        for _ in range(3):
            store.get_online_features(features=features, entity_rows=rows)
        latencies = []
        for _ in range(repeats):
            t = time.perf_counter()
            store.get_online_features(features=features, entity_rows=rows).to_dict()
            latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    values = [v for k, col in cold.items() if k != "code" for v in col]
    return {
        "service": service,
        "codes": len(codes),
        "repeats": repeats,
        "cold_call_ms": cold_ms,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "mean_ms": statistics.fmean(latencies),
        "max_ms": latencies[-1],
        "features": len(cold) - 1,
        "non_null_fraction": sum(v is not None for v in values) / max(1, len(values)),
    }


# --- checks in the warehouse ----------------------------------------------------------------------------------------


def agreement(client, max_codes: int) -> dict[str, Any]:
    """The reference against `marts.fct_daily_features` on every core column, over up to `max_codes` codes."""
    codes = [
        r[0]
        for r in client.query(
            "select code from (select distinct code from marts.fct_daily_features) "
            "order by cityHash64(code) limit {n:UInt32}",
            parameters={"n": max_codes},
        ).result_rows
    ]
    where = "code in {codes:Array(String)}"
    scale_exprs = ", ".join(f"avg(abs(`{c}`))" for c in CORE_COLUMNS)
    scales = client.query(
        f"select {scale_exprs} from marts.fct_daily_features where {where}", parameters={"codes": codes}
    ).result_rows[0]
    exprs = []
    for col, scale in zip(CORE_COLUMNS, scales, strict=True):
        floor = max(ZERO_FLOOR * (scale or 0.0), 1e-300)
        exprs.append(f"countIf(isNull(r.`{col}`) != isNull(m.`{col}`))")
        exprs.append(f"max(abs(r.`{col}` - m.`{col}`) / greatest(abs(m.`{col}`), {floor!r}))")
    row = client.query(
        f"select count(), countIf(r.session_date != m.session_date), {', '.join(exprs)} "
        f"from (select * from {REFERENCE_TABLE} where {where}) as r "
        f"inner join (select * from marts.fct_daily_features where {where}) as m using (code, date)",
        parameters={"codes": codes},
    ).result_rows[0]
    counts = client.query(
        f"select (select count() from {REFERENCE_TABLE} where {where}), "
        f"(select count() from marts.fct_daily_features where {where})",
        parameters={"codes": codes},
    ).result_rows[0]
    columns = {}
    for i, col in enumerate(CORE_COLUMNS):
        mismatched, max_rel = row[2 + 2 * i], row[3 + 2 * i]
        columns[col] = {"null_mismatches": int(mismatched), "max_rel_diff": float(max_rel or 0.0)}
    worst = max(columns.items(), key=lambda kv: kv[1]["max_rel_diff"])
    return {
        "codes_compared": len(codes),
        "rows_compared": int(row[0]),
        "rows_reference": int(counts[0]),
        "rows_mart": int(counts[1]),
        "session_date_mismatches": int(row[1]),
        "tolerance": AGREEMENT_TOLERANCE,
        "zero_floor": ZERO_FLOOR,
        "max_rel_diff": worst[1]["max_rel_diff"],
        "worst_column": worst[0],
        "null_mismatches": sum(c["null_mismatches"] for c in columns.values()),
        "ok": bool(
            row[0] == counts[0] == counts[1]
            and row[1] == 0
            and all(c["null_mismatches"] == 0 and c["max_rel_diff"] <= AGREEMENT_TOLERANCE for c in columns.values())
        ),
        "columns": columns,
    }


def mart_facts(client, new_day: date) -> dict[str, Any]:
    rows, codes, first, last = client.query(
        "select count(), uniqExact(code), min(date), max(date) from marts.fct_daily_features"
    ).result_rows[0]
    new_rows = client.command(
        "select count() from marts.fct_daily_features where date = {d:Date}", parameters={"d": new_day}
    )
    listed = client.command(
        "select count() from marts.fct_daily_prices_adjusted where date = {d:Date}", parameters={"d": new_day}
    )
    columns = client.command(
        "select count() from system.columns where database = 'marts' and table = 'fct_daily_features'"
    )
    return {
        "rows": int(rows),
        "codes": int(codes),
        "first_date": first.isoformat(),
        "last_date": last.isoformat(),
        "columns": int(columns),
        "new_day_rows": int(new_rows),
        "new_day_listed": int(listed),
    }


def lookup_codes(client, new_day: date, n: int) -> list[str]:
    return [
        r[0]
        for r in client.query(
            "select code from marts.fct_daily_features where date = {d:Date} "
            "order by cityHash64(code) limit {n:UInt32}",
            parameters={"d": new_day, "n": n},
        ).result_rows
    ]


# --- results --------------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import chdb
    import dbt.version
    import polars

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": psutil.cpu_count(logical=True),
        "memory_bytes": psutil.virtual_memory().total,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "chdb": chdb.__version__,
        "dbt": dbt.version.__version__,
        "polars": polars.__version__,
        "loadavg_at_start": os.getloadavg(),
    }


def evaluate(results: dict[str, Any]) -> dict[str, Any]:
    full, inc, ref = results["dbt_full_build"], results["dbt_incremental"], results["polars_reference"]
    ratio = full["wall_s"] / ref["total_s"]
    inc_dbt = inc["dbt_elapsed_s"] if inc["dbt_elapsed_s"] is not None else inc["wall_s"]
    peak = results["memory"]["peak_bytes"]
    return {
        "build_ratio": {
            "value": ratio,
            "target": f"<= {TARGETS['build_ratio_max']}",
            "met": ratio <= TARGETS["build_ratio_max"],
        },
        "incremental_dbt_s": {
            "value": inc_dbt,
            "target": f"< {TARGETS['incremental_dbt_s_max']}",
            "met": inc_dbt < TARGETS["incremental_dbt_s_max"],
        },
        "peak_memory_bytes": {
            "value": peak,
            "target": f"< {TARGETS['peak_memory_bytes_max'] / GIB:.0f} GiB",
            "met": peak < TARGETS["peak_memory_bytes_max"],
        },
    }


def _gib(n: float) -> str:
    return f"{n / GIB:.2f} GiB"


def _yes(met: bool) -> str:
    return "met" if met else "**missed**"


def render_markdown(r: dict[str, Any], others: list[dict[str, Any]] = ()) -> str:
    """bench/RESULTS.md: the machine, date, scale and a table of every measurement with its target, then one line
    per run kept beside it (`bench/results-*.json`, e.g. other scales or a run that failed)."""
    main = _render_failure(r) if r.get("status") != "ok" else _render_complete(r)
    return main + _render_others(others) if others else main


def _render_complete(r: dict[str, Any]) -> str:
    m, s, full, inc = r["machine"], r["scale"], r["dbt_full_build"], r["dbt_incremental"]
    ref, feast, look, mem, t = r["polars_reference"], r["feast"], r["online_lookup"], r["memory"], r["targets"]
    agree = r["agreement"]
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `python -m bench.run` (`make bench`) from `bench/results.json` on {r['date']}.",
        "",
        f"- **Machine**: {m['cpu']}, {m['cores']} cores, {_gib(m['memory_bytes'])} RAM, {m['os']}; "
        f"Python {m['python']}, chDB {m['chdb']}, dbt {m['dbt']}, polars {m['polars']}. "
        f"Load average at start {m['loadavg_at_start'][0]:.2f}.",
        f"- **Scale**: {s['codes']:,} codes x {s['years']} years ({s['start']} .. {s['new_day']}, "
        f"{s['trading_days']:,} trading days): {s['daily_bars']:,} daily bars ({s['splits']} split/consolidation "
        f"rows), fct_daily_features {r['mart']['rows']:,} rows x {r['mart']['columns']} columns.",
        f"- **Command**: `{r['command']}`",
        "",
        "| measurement | value | target | |",
        "|---|---:|---|---|",
        f"| full `{full['command']}` (wall) | {full['wall_s']:.1f} s | | |",
        f"| of which dbt elapsed / models / tests | {full['dbt_elapsed_s']:.1f} s / {full['models_s']:.1f} s / "
        f"{full['tests_s']:.1f} s | | |",
        f"| polars reference, core features (read + compute + write) | {ref['total_s']:.1f} s "
        f"({ref['read_s']:.1f} + {ref['compute_s']:.1f} + {ref['write_s']:.1f}) | | |",
        f"| **build ratio** dbt build / polars reference | **{t['build_ratio']['value']:.2f}x** | "
        f"{t['build_ratio']['target']} | {_yes(t['build_ratio']['met'])} |",
        f"| feature models only ({', '.join(FEATURE_MODELS)}) / polars reference | "
        f"{r['feature_models_ratio']:.2f}x | | |",
        f"| incremental refresh of one new day, dbt elapsed | **{t['incremental_dbt_s']['value']:.1f} s** | "
        f"{t['incremental_dbt_s']['target']} s | {_yes(t['incremental_dbt_s']['met'])} |",
        f"| of which the fct_daily_features model / wall incl. dbt start-up | "
        f"{inc['model_seconds'].get('fct_daily_features', 0.0):.1f} s / {inc['wall_s']:.1f} s | | |",
        f"| Feast materialize, one day (whole call / Feast materialize) | {feast['one_day']['wall_s']:.1f} s / "
        f"{feast['one_day']['seconds']['materialize']:.1f} s | | |",
        f"| Feast materialize, first ttl window | {feast['initial']['wall_s']:.1f} s | | |",
        f"| online lookup, {look['codes']} codes, `{look['service']}` (p50 / p99, warm) | "
        f"{look['p50_ms']:.1f} ms / {look['p99_ms']:.1f} ms | | |",
        f"| **peak memory** (bench process + dbt, highest step) | **{_gib(mem['peak_bytes'])}** "
        f"({mem['peak_step']}) | {t['peak_memory_bytes']['target']} | {_yes(t['peak_memory_bytes']['met'])} |",
        f"| peak RSS (bench process + dbt): full build / incremental / polars reference | "
        f"{_gib(mem['dbt_full_build'])} / {_gib(mem['dbt_incremental'])} / {_gib(mem['polars_reference'])} | | |",
        f"| max RSS of the dbt process alone: full build / incremental | "
        f"{_gib(mem['dbt_full_build_child_max_rss'])} / {_gib(mem['dbt_incremental_child_max_rss'])} | | |",
        f"| reference vs mart, {len(CORE_COLUMNS)} core columns, {agree['codes_compared']} codes "
        f"({agree['rows_compared']:,} rows) | max rel. diff {agree['max_rel_diff']:.1e} ({agree['worst_column']}), "
        f"{agree['null_mismatches']} NULL mismatches | <= {agree['tolerance']:.0e} | {_yes(agree['ok'])} |",
        "",
        "Slowest models of the full build (seconds): "
        + ", ".join(f"{k} {v:.1f}" for k, v in list(full["model_seconds"].items())[:6])
        + ".",
        "",
        "Slowest models of the incremental refresh (seconds): "
        + ", ".join(f"{k} {v:.1f}" for k, v in list(inc["model_seconds"].items())[:6])
        + ".",
        "",
        "Generating and landing the market (not part of any target): "
        f"{r['phases']['generate']['wall_s']:.1f} s and {r['phases']['land_history']['wall_s']:.1f} s.",
        "",
    ]
    return "\n".join(lines)


def _render_others(runs: list[dict[str, Any]]) -> str:
    lines = [
        "",
        "## Other runs",
        "",
        "| scale | date | full build (wall) | polars reference | ratio | incremental (dbt) | peak memory | status |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        s, full, ref, inc = (
            r.get("scale", {}),
            r.get("dbt_full_build"),
            r.get("polars_reference"),
            r.get("dbt_incremental"),
        )
        scale = f"{s.get('codes', 0):,} codes x {s.get('years')} y ({s.get('daily_bars', 0):,} bars)"
        if full and full["returncode"] != 0:
            running = ", ".join(full.get("unfinished_models", [])) or "?"
            build = f"stopped after {full['wall_s']:.0f} s in {running}, dbt RSS {_gib(full['max_rss_bytes'])}"
        else:
            build = f"{full['wall_s']:.1f} s" if full else "-"
        reference = f"{ref['total_s']:.1f} s" if ref else "-"
        ratio = f"{full['wall_s'] / ref['total_s']:.2f}x" if full and ref and full["returncode"] == 0 else "-"
        incremental = f"{inc['dbt_elapsed_s']:.1f} s" if inc and inc.get("dbt_elapsed_s") is not None else "-"
        peak = _gib(r["memory"]["peak_bytes"]) if "memory" in r else "-"
        lines.append(
            f"| {scale} | {r['date'][:10]} | {build} | {reference} | {ratio} | {incremental} | {peak} | {r['status']} |"
        )
    return "\n".join([*lines, ""])


def other_runs(results_path: Path) -> list[dict[str, Any]]:
    """The runs kept beside `results_path` as `results-*.json`, by date."""
    runs = [json.loads(p.read_text()) for p in results_path.parent.glob("results-*.json") if p != results_path]
    return sorted(runs, key=lambda r: r["date"])


def _render_failure(r: dict[str, Any]) -> str:
    """RESULTS.md of a run that did not complete: what failed, where, and every step measured until then."""
    m, s = r["machine"], r.get("scale")
    lines = [
        "# Benchmark results (incomplete run)",
        "",
        f"`{r['command']}` on {r['date']} did not complete: **{r['status']}**.",
        "",
        f"- **Machine**: {m['cpu']}, {m['cores']} cores, {_gib(m['memory_bytes'])} RAM, {m['os']}; chDB {m['chdb']}, "
        f"dbt {m['dbt']}, polars {m['polars']}. Load average at start {m['loadavg_at_start'][0]:.2f}.",
    ]
    if s:
        lines.append(
            f"- **Scale**: {s['codes']:,} codes x {s['years']} years ({s['start']} .. {s['new_day']}, "
            f"{s['trading_days']:,} trading days): {s['daily_bars']:,} daily bars."
        )
    lines += ["", "| step | wall | peak RSS |", "|---|---:|---:|"]
    for name, phase in r.get("phases", {}).items():
        rss = phase.get("max_rss_bytes") or phase.get("peak_rss_bytes", 0)
        who = "dbt process" if "max_rss_bytes" in phase else "bench process"
        lines.append(f"| {name} | {phase['wall_s']:.1f} s | {_gib(rss)} ({who}) |")
    for key in ("dbt_full_build", "dbt_incremental"):
        build = r.get(key)
        if build and build["returncode"] != 0:
            done = ", ".join(f"{k} {v:.1f} s" for k, v in build["model_seconds"].items())
            lines += ["", f"`{build['command']}`: {build.get('killed') or build['failed'][:3]}."]
            lines.append(f"Models built: {done or 'none'}. Running when it stopped: {build['unfinished_models']}.")
    ref = r.get("polars_reference")
    if ref:
        lines += [
            "",
            f"The polars reference on the same marts: {ref['total_s']:.1f} s (read {ref['read_s']:.1f} + compute "
            f"{ref['compute_s']:.1f} + write {ref['write_s']:.1f}), {ref['rows']:,} rows, peak RSS "
            f"{_gib(ref['peak_rss_bytes'])}.",
        ]
    return "\n".join([*lines, ""])


# --- the run --------------------------------------------------------------------------------------------------------


def run(
    codes: int,
    years: float,
    home: Path,
    results_path: Path,
    markdown_path: Path,
    repeats: int,
    agreement_codes: int,
    lookups: int,
) -> dict[str, Any]:
    home = prepare_home(home)
    os.environ.update(GOGOOKU_HOME=str(home), GOGOOKU_TARGET="embedded")
    from gogooku.cli import dbt_env

    started = datetime.now(UTC)
    phases = Phases(RssSampler().start())
    results: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "status": "ok",
        "machine": machine(),
        "home": str(home),
    }
    try:
        _steps(results, phases, home, dbt_env(), codes, years, repeats, agreement_codes, lookups)
    except BenchFailed as exc:
        results["status"] = f"failed: {exc}"
    except BaseException as exc:
        results["status"] = f"failed: {type(exc).__name__}: {exc}"
        raise
    finally:
        phases.sampler.stop()
        results["phases"] = phases.records
        results["machine"]["loadavg_at_end"] = os.getloadavg()
        results["total_s"] = (datetime.now(UTC) - started).total_seconds()
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=2, default=_json_default) + "\n")
        markdown_path.write_text(render_markdown(json.loads(results_path.read_text()), other_runs(results_path)))
    return results


def _steps(
    results: dict[str, Any],
    phases: Phases,
    home: Path,
    env: dict[str, str],
    codes: int,
    years: float,
    repeats: int,
    agreement_codes: int,
    lookups: int,
) -> None:
    from gogooku.warehouse import open_warehouse

    target_path = home / "dbt" / "target"
    with phases.phase("generate"):
        market = mk.synthesize(codes, years)
    results["scale"] = {"years": years, **mk.describe(market)}
    with phases.phase("land_history") as rec, open_warehouse() as client:
        rec["rows"] = mk.land_history(client, market)
    market = dataclasses.replace(market, frames=_new_day_frames(market))  # frees the history's frames
    gc.collect()

    with phases.phase("dbt_parse") as rec:
        parse = run_dbt(["parse", "--quiet"], env, target_path)
        rec["returncode"] = parse.returncode
    with phases.phase("dbt_full_build") as rec:
        full = run_dbt([*BUILD, "--full-refresh"], env, target_path)
        rec.update(full.summary())
    results["dbt_full_build"] = full.summary()
    shutil.copytree(target_path / "compiled", home / "dbt" / "compiled_full_build", dirs_exist_ok=True)
    if full.returncode != 0 and not _reference_inputs_exist(open_warehouse):
        raise BenchFailed(f"the full dbt build failed: {full.killed or results['dbt_full_build']['failed'][:3]}")

    # Runs even when the build failed after the price marts (e.g. out of memory in the feature mart): the same
    # work done in polars is the yardstick of what failed.
    with phases.phase("polars_reference") as rec, open_warehouse() as client:
        rec.update(run_reference(client, scratch=home))
    results["polars_reference"] = {**phases.records["polars_reference"]}
    gc.collect()
    if full.returncode != 0:
        raise BenchFailed(f"the full dbt build failed: {full.killed or results['dbt_full_build']['failed'][:3]}")
    # Before the new day lands: the labels of the last sessions change when it does.
    with phases.phase("agreement") as rec, open_warehouse() as client:
        rec.update(agreement(client, agreement_codes))

    with phases.phase("feast_materialize_initial") as rec:
        rec.update(feast_materialize())

    with phases.phase("land_new_day") as rec, open_warehouse() as client:
        rec["rows"] = mk.land_new_day(client, market)
    window = {"min_date": market.new_day.isoformat(), "max_date": (market.new_day + timedelta(days=1)).isoformat()}
    with phases.phase("dbt_incremental") as rec:
        inc = run_dbt([*BUILD, "--vars", json.dumps(window)], env, target_path)
        rec.update(inc.summary())
    results["dbt_incremental"] = {**inc.summary(), "window": window}
    if inc.returncode != 0:
        raise BenchFailed(f"the incremental dbt build failed: {inc.killed or results['dbt_incremental']['failed'][:3]}")

    with phases.phase("feast_materialize_one_day") as rec:
        rec.update(feast_materialize())
    with open_warehouse() as client:
        codes_for_lookup = lookup_codes(client, market.new_day, lookups)
    with phases.phase("online_lookup") as rec:
        rec.update(online_lookups(codes_for_lookup, repeats))
    with open_warehouse() as client:
        results["mart"] = mart_facts(client, market.new_day)

    p = phases.records
    results["feast"] = {"initial": p["feast_materialize_initial"], "one_day": p["feast_materialize_one_day"]}
    results["online_lookup"] = p["online_lookup"]
    results["agreement"] = p["agreement"]
    results["feature_models_ratio"] = sum(
        results["dbt_full_build"]["model_seconds"].get(m, 0.0) for m in FEATURE_MODELS
    ) / max(results["polars_reference"]["total_s"], 1e-9)
    # Peak memory of the benchmark's process tree in each measured step: this process plus its dbt child. For a
    # dbt step the child's exact ru_maxrss (wait4) is added to this process's RSS, and the sampled sum is the floor.
    steps = ("dbt_full_build", "polars_reference", "feast_materialize_initial", "dbt_incremental")
    steps += ("feast_materialize_one_day", "online_lookup")
    measured = {step: p[step]["peak_tree_rss_bytes"] for step in steps}
    for step, dbt_run in (("dbt_full_build", full), ("dbt_incremental", inc)):
        measured[step] = max(measured[step], p[step]["rss_before_bytes"] + dbt_run.max_rss_bytes)
    peak_step = max(measured, key=measured.get)
    results["memory"] = {
        **measured,
        "peak_bytes": measured[peak_step],
        "peak_step": peak_step,
        "dbt_full_build_child_max_rss": full.max_rss_bytes,
        "dbt_incremental_child_max_rss": inc.max_rss_bytes,
        "generate_and_land": max(p["generate"]["peak_rss_bytes"], p["land_history"]["peak_rss_bytes"]),
        "bench_process_max_rss": self_max_rss_bytes(),
        "children_max_rss": children_max_rss_bytes(),
        "note": "RSS of this process plus its dbt child: dbt's ru_maxrss from wait4, this process sampled every "
        "20 ms. chDB keeps no system.query_log unless started with a query_log config (bench/profile.py does).",
    }
    results["targets"] = evaluate(results)


def _reference_inputs_exist(open_warehouse) -> bool:  # noqa: ANN001 - gogooku.warehouse.open_warehouse
    with open_warehouse() as client:
        tables = client.command(
            "select count() from system.tables where database = 'marts' "
            "and name in ('fct_daily_prices_adjusted', 'fct_topix_daily')"
        )
    return int(tables) == 2


def _new_day_frames(market: mk.Market) -> dict[str, Any]:
    """Only the rows the new-day landing needs, so the history's frames are freed before anything is measured."""
    import polars as pl

    from ingestion.schema import DATASETS

    return {
        name: frame.filter(pl.col(DATASETS[name].day_field) == market.new_day)
        for name, frame in market.frames.items()
        if name != "markets_calendar"
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=4000, help="codes in the synthetic market (default 4000)")
    parser.add_argument("--years", type=float, default=10, help="years of history (default 10)")
    parser.add_argument("--home", type=Path, default=None, help="benchmark GOGOOKU_HOME (default $GOGOOKU_HOME/bench)")
    parser.add_argument("--results", type=Path, default=RESULTS_JSON, help="results JSON (default bench/results.json)")
    parser.add_argument("--markdown", type=Path, default=RESULTS_MD, help="results table (default bench/RESULTS.md)")
    parser.add_argument("--lookups", type=int, default=100, help="codes per online lookup (default 100)")
    parser.add_argument("--repeats", type=int, default=200, help="timed online lookups (default 200)")
    parser.add_argument("--agreement-codes", type=int, default=200, help="codes compared with the mart (default 200)")
    parser.add_argument(
        "--render-only", action="store_true", help="only rewrite --markdown from --results (and results-*.json)"
    )
    args = parser.parse_args(argv)
    if args.render_only:
        results = json.loads(args.results.read_text())
        args.markdown.write_text(render_markdown(results, other_runs(args.results)))
        print(f"[bench] table: {args.markdown}")
        return 0
    results = run(
        codes=args.codes,
        years=args.years,
        home=args.home or default_home(),
        results_path=args.results,
        markdown_path=args.markdown,
        repeats=args.repeats,
        agreement_codes=args.agreement_codes,
        lookups=args.lookups,
    )
    print(args.markdown.read_text())
    print(f"[bench] results: {args.results}  table: {args.markdown}")
    return 0 if results["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
