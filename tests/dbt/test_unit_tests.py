"""The project's dbt `unit_tests:` pass: calendar, adjustment, statement close rule and the indicator macros
(`dbt_project/models/intermediate/features/int_sessions_indicators_unit_tests.yml`).

A unit test needs its input relations to exist (dbt reads their column types), so the whole project is built
with `--empty` (every model created with zero rows, on a fresh embedded warehouse holding only the empty raw
tables). `dbt build` runs each model's unit tests before the model; data tests are left out, since the
tables are empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gogooku.cli import dbt_env
from gogooku.settings import DBT_PROJECT_DIR
from gogooku.warehouse import open_warehouse
from ingestion.schema import ensure_raw_tables

# Models that must keep unit tests, and how many the indicator macros have at least.
MODELS_WITH_UNIT_TESTS = {
    "dim_trading_calendar",
    "int_daily_bars_adjusted",
    "int_statements_dated",
    "int_sessions_indicators",
}
INDICATOR_UNIT_TESTS = 9


def test_dbt_unit_tests_pass(gogooku_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_warehouse() as client:
        ensure_raw_tables(client)
    target = tmp_path / "dbt_target"
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt) if dbt.exists() else "dbt", "build", "--empty", "--exclude-resource-type", "test"],
        cwd=DBT_PROJECT_DIR,
        env=dbt_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    results_path = target / "run_results.json"
    assert results_path.exists(), f"dbt build wrote no run_results.json:\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
    results = json.loads(results_path.read_text())["results"]
    unit = {r["unique_id"]: r for r in results if r["unique_id"].startswith("unit_test.")}

    # unit tests that did not run (skipped after a failure) carry no message: reported by status only
    failed = {uid: (r["status"], r["message"]) for uid, r in unit.items() if r["status"] != "pass"}
    assert not failed, "unit tests did not pass:\n" + "\n".join(
        f"{uid}: {status}" + (f"\n{msg}" if msg else "") for uid, (status, msg) in failed.items()
    )
    assert proc.returncode == 0, f"dbt build --empty failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"

    per_model: dict[str, int] = {}
    for uid in unit:  # unit_test.<project>.<model>.<test>
        model = uid.split(".")[2]
        per_model[model] = per_model.get(model, 0) + 1
    missing = MODELS_WITH_UNIT_TESTS - set(per_model)
    assert not missing, f"no unit test ran for {sorted(missing)}; ran: {per_model}"
    assert per_model["int_sessions_indicators"] >= INDICATOR_UNIT_TESTS, per_model
