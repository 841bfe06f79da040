"""The HTML report: sections from the warehouse, dbt's run results and MLflow, with PNGs that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from ml import training
from ml.report import write_report


def _images(page: str) -> list[str]:
    return re.findall(r"<img src='([^']+)'", page)


def _run_results(directory: Path) -> None:
    """A dbt run_results.json with one passing model, one passing test and one failing test."""
    directory.mkdir(parents=True)
    results = [
        {"unique_id": "model.gogooku.fct_daily_features", "status": "success", "message": "OK", "failures": None},
        {"unique_id": "test.gogooku.not_null_fct_daily_features_code.1", "status": "pass", "failures": 0},
        {
            "unique_id": "test.gogooku.assert_calendar_agrees_with_jquants",
            "status": "fail",
            "failures": 2,
            "message": "Got 2 results, configured to fail if != 0",
        },
        {"unique_id": "unit_test.gogooku.fct_daily_features.test_ema", "status": "pass", "failures": 0},
    ]
    payload = {"metadata": {"generated_at": "2026-11-24T00:00:00Z"}, "results": results}
    (directory / "run_results.json").write_text(json.dumps(payload))


def test_report_covers_data_tests_features_and_model(
    mart: pd.DataFrame, gogooku_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run_results(tmp_path / "dbt_target")
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
    result = training.train(n_folds=2)

    path = write_report()
    assert path == gogooku_home / "report" / "index.html"
    page = path.read_text()
    for heading in ("Data coverage", "Data tests", "Feature distributions", "Model performance"):
        assert f"<h2>{heading}</h2>" in page
    assert "could not be built" not in page
    assert "<td>fct_daily_features</td>" in page and "<td>12,000</td>" in page and "2023-01-04" in page
    assert "<b>3</b> data and unit tests: 1 fail, 2 pass" in page
    assert "assert_calendar_agrees_with_jquants" in page and "<tr class='bad'>" in page
    assert result.run_id in page and "rank_ic_mean" in page and "long_short_sharpe" in page
    assert "<td>champion</td>" in page

    images = _images(page)
    expected = {
        "coverage_codes_per_day.png",
        "feature_distributions.png",
        "model/plots/ic_over_time.png",
        "model/plots/cumulative_quintile_returns.png",
        "model/plots/feature_importance.png",
    }
    assert expected <= set(images)
    for src in images:
        png = path.parent / src
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", src


def test_report_on_an_empty_home_says_what_is_missing(
    gogooku_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "no_dbt_run"))
    out = tmp_path / "elsewhere"
    path = write_report(out)
    assert path == out / "index.html"
    page = path.read_text()
    assert "The warehouse has no tables yet" in page
    assert "No dbt run results" in page
    assert "does not exist yet" in page
    assert "No model has been trained yet" in page
    assert _images(page) == []
    assert not (gogooku_home / "mlflow" / "mlflow.db").exists(), "the report must not create an MLflow store"


def _dbt_results(path: Path, generated_at: str, results: list[dict], run_id: str = "", which: str = "build") -> None:
    """A run_results.json as dbt writes it: `args.which`, and the Dagster run in `metadata.env` when set."""
    path.mkdir(parents=True, exist_ok=True)
    env = {"DAGSTER_RUN_ID": run_id} if run_id else {}
    payload = {"metadata": {"generated_at": generated_at, "env": env}, "args": {"which": which}, "results": results}
    (path / "run_results.json").write_text(json.dumps(payload))


def _test(name: str, status: str) -> dict:
    return {"unique_id": f"test.gogooku.{name}", "status": status, "failures": int(status == "fail")}


def test_data_tests_come_from_the_newest_dbt_run_with_every_step_of_a_dagster_run(
    gogooku_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The newest of the project's target and the Dagster dbt steps under $GOGOOKU_HOME/dbt/runs, by generated_at;
    a Dagster run's steps together; `docs generate` / `compile` results never hide a build."""
    from gogooku.settings import load_settings
    from ml.report import data_tests_section, latest_run_results

    settings = load_settings()
    target = tmp_path / "dbt_target"
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))
    runs = gogooku_home / "dbt" / "runs"
    model = {"unique_id": "model.gogooku.fct_daily_features", "status": "success"}
    assert latest_run_results(settings) == []
    assert "No dbt run results" in data_tests_section(settings)

    _dbt_results(target, "2024-03-29T09:00:00Z", [_test("by_hand", "pass")])  # `gogooku build`
    _dbt_results(runs / "20240329T091000-dbt_models-aaaa", "2024-03-29T09:10:00Z", [_test("old", "fail")], "run-old")
    [only] = latest_run_results(settings)
    assert only.dagster_run_id == "run-old"

    # a daily refresh: its two dbt steps, both newer; the first has a warning
    first, second = runs / "20240330T091000-dbt_models-bbbb", runs / "20240330T091500-dbt_incremental_models-cccc"
    _dbt_results(first, "2024-03-30T09:10:00Z", [model, _test("a", "pass"), _test("warned", "warn")], "run-new")
    _dbt_results(second, "2024-03-30T09:15:00.123456Z", [_test("b", "pass")], "run-new")
    # newer than everything but only compiled nodes (dbt docs generate); and a step that left no results file
    compiled = [{"unique_id": "model.gogooku.x", "status": "success"}]
    _dbt_results(target, "2024-03-30T10:00:00Z", compiled, which="generate")
    (runs / "20240330T092000-source_freshness-dddd").mkdir()
    (runs / "20240330T092000-source_freshness-dddd" / "sources.json").write_text("{}")

    steps = latest_run_results(settings)
    assert [r.path.parent for r in steps] == [first, second]
    body = data_tests_section(settings)
    assert "Dagster run <code>run-new</code> (2 dbt steps:" in body
    assert "$GOGOOKU_HOME/dbt/runs/20240330T091500-dbt_incremental_models-cccc/run_results.json" in body
    assert "<b>3</b> data and unit tests: 2 pass, 1 warn; 1 other nodes" in body
    assert "test.gogooku.warned" in body and "test.gogooku.old" not in body

    # dbt run by hand after it: the project's target wins, alone
    _dbt_results(target, "2024-03-31T08:00:00Z", [_test("by_hand", "pass"), _test("c", "pass")])
    [latest] = latest_run_results(settings)
    assert latest.path == target / "run_results.json" and latest.dagster_run_id == ""
    body = data_tests_section(settings)
    assert "dbt build of 2024-03-31 08:00:00 UTC" in body and "Dagster run" not in body
    assert "<b>2</b> data and unit tests: 2 pass" in body and "Every test passed" in body
