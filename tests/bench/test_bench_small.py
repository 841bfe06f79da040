"""The benchmark end to end at a tiny scale (30 codes x 1 year): every measurement lands in results.json with a
sensible value, the markdown table is written, and the polars reference agrees with the dbt mart.

`python -m bench.run` runs as a subprocess: it opens its own chDB engine (one engine path per process), and that is
how `make bench` runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gogooku.settings import REPO_ROOT

pytestmark = pytest.mark.slow

CODES, YEARS = 30, 1
# A few core columns the mart must match to 1e-6 (relative, against a floor of 1e-3 of the column's mean |value|).
CORE_CHECKED = [
    *("ret_1d", "ret_20d", "sma_20", "ema_20", "ema_200", "macd", "macd_signal", "rsi_14", "bb_upper_20"),
    *("atr_14", "adx_14", "stoch_k", "cci_20", "mfi_14", "obv", "vol_20d", "beta_60d", "corr_topix_60d"),
    "target_ret_5d",
]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    results, markdown = out / "results.json", out / "RESULTS.md"
    cmd = [
        *(sys.executable, "-m", "bench.run", "--codes", str(CODES), "--years", str(YEARS)),
        *("--home", str(out / "home"), "--results", str(results), "--markdown", str(markdown)),
        *("--repeats", "20", "--lookups", "20", "--agreement-codes", str(CODES)),
    ]
    # the timeout is a hang guard, not a speed check: `make bench` measures speed
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"bench.run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(results.read_text()), markdown.read_text()


def test_scale_and_raw_market(bench_run: tuple[dict, str]) -> None:
    assert bench_run[0]["status"] == "ok"
    scale = bench_run[0]["scale"]
    assert scale["codes"] == CODES
    assert 230 <= scale["trading_days"] <= 260
    assert scale["daily_bars"] > 0.8 * CODES * scale["trading_days"]
    assert scale["splits"] >= 1  # some AdjFactor != 1
    assert set(scale["rows"]) == {
        "equities_bars_daily",
        "indices_topix",
        "markets_calendar",
        "equities_master",
        "equities_investor_types",
        "fins_summary",
    }
    landed = bench_run[0]["phases"]["land_history"]["rows"]
    assert (
        landed["equities_bars_daily"] + bench_run[0]["phases"]["land_new_day"]["rows"]["equities_bars_daily"]
        == (scale["daily_bars"])
    )


def test_dbt_builds_are_measured(bench_run: tuple[dict, str]) -> None:
    results = bench_run[0]
    for key in ("dbt_full_build", "dbt_incremental"):
        run = results[key]
        assert run["returncode"] == 0 and not run["failed"], run["failed"]
        assert run["wall_s"] > run["dbt_elapsed_s"] > 0
        assert run["models_s"] > 0 and run["tests_s"] > 0
        assert run["max_rss_bytes"] > 50 * 2**20
        assert {"int_sessions_indicators", "fct_daily_features"} <= set(run["model_seconds"])
    assert "--full-refresh" in results["dbt_full_build"]["command"]
    window = results["dbt_incremental"]["window"]
    assert window["min_date"] == results["scale"]["new_day"]
    mart = results["mart"]
    assert mart["last_date"] == results["scale"]["new_day"]
    assert mart["new_day_rows"] == mart["new_day_listed"] > 0  # the incremental refresh built the new day
    assert mart["rows"] == results["scale"]["daily_bars"]


def test_reference_ratio_feast_and_lookups(bench_run: tuple[dict, str]) -> None:
    results = bench_run[0]
    ref = results["polars_reference"]
    parts = ref["read_s"] + ref["compute_s"] + ref["write_s"]
    assert parts <= ref["total_s"] <= 1.1 * parts + 0.5
    assert ref["rows"] == results["scale"]["daily_bars"] - results["mart"]["new_day_rows"]
    ratio = results["targets"]["build_ratio"]["value"]
    assert ratio == pytest.approx(results["dbt_full_build"]["wall_s"] / ref["total_s"])
    assert results["feature_models_ratio"] > 0
    one_day = results["feast"]["one_day"]
    assert one_day["wall_s"] > 0 and one_day["seconds"]["materialize"] > 0
    assert all("seconds" in view or "skipped" in view for view in one_day["views"].values())
    lookup = results["online_lookup"]
    assert lookup["codes"] == 20 and lookup["repeats"] == 20
    assert 0 < lookup["p50_ms"] <= lookup["p99_ms"] <= lookup["max_ms"] < 5000
    assert lookup["non_null_fraction"] > 0.5


def test_memory_and_targets(bench_run: tuple[dict, str]) -> None:
    results = bench_run[0]
    memory = results["memory"]
    assert 100 * 2**20 < memory["peak_bytes"] < 8 * 2**30
    assert memory["peak_bytes"] >= memory["dbt_full_build_child_max_rss"]
    targets = results["targets"]
    assert set(targets) == {"build_ratio", "incremental_dbt_s", "peak_memory_bytes"}
    assert all(isinstance(t["met"], bool) for t in targets.values())
    assert targets["peak_memory_bytes"]["met"]
    assert targets["incremental_dbt_s"]["value"] == results["dbt_incremental"]["dbt_elapsed_s"]


def test_reference_agrees_with_the_mart(bench_run: tuple[dict, str]) -> None:
    agreement = bench_run[0]["agreement"]
    assert agreement["codes_compared"] == CODES
    assert agreement["rows_compared"] == agreement["rows_reference"] == agreement["rows_mart"] > 0
    assert agreement["session_date_mismatches"] == 0
    for column in CORE_CHECKED:
        col = agreement["columns"][column]
        assert col["null_mismatches"] == 0, column
        assert col["max_rel_diff"] <= 1e-6, (column, col["max_rel_diff"])
    assert agreement["ok"], {k: v for k, v in agreement["columns"].items() if v["max_rel_diff"] > 1e-6}


def test_markdown_table(bench_run: tuple[dict, str]) -> None:
    results, markdown = bench_run
    assert markdown.startswith("# Benchmark results")
    assert "| measurement | value | target | |" in markdown
    assert f"{CODES:,} codes x {float(YEARS)} years" in markdown
    assert results["machine"]["cpu"] in markdown
    assert results["date"] in markdown
    for label in ("build ratio", "incremental refresh", "peak memory", "online lookup", "Feast materialize"):
        assert label in markdown
