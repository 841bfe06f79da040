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
