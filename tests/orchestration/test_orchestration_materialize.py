"""The jobs executed in process on a real embedded warehouse: history landed from the sample market's 2023 bulk
files, then trading days through the local J-Quants v2 server, dbt as the subprocess dagster-dbt starts."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
from warehouse_checks import Sample

from gogooku.cli import run_dbt
from gogooku.warehouse import lock_holder, open_warehouse
from ingestion.ingest import ingest_bulk
from ingestion.schema import DATASETS
from orchestration.assets.dbt import dbt_incremental_models
from orchestration.assets.ml import feature_store, ranker_model, run_report
from orchestration.checks import FRESHNESS_CHECK
from orchestration.partitions import range_tags
from orchestration.refresh import backfill, refresh

DAY1, DAY2 = "2024-01-04", "2024-01-05"  # the first two sessions of 2024
SAMPLE_LAST_DAY = date(2024, 3, 29)  # the sample market's last session (tests/conftest.py SAMPLE_END), its 79th


def land_history(sample_dir: Path, tmp_path: Path) -> None:
    """Land the sample's 2023 files (December 2023) as bulk files: the history a daily refresh builds on."""
    history = tmp_path / "history"
    history.mkdir()
    for path in sample_dir.glob("*_2023.csv*"):
        shutil.copy(path, history / path.name)
    with open_warehouse() as client:
        report = ingest_bulk(client, history)
    assert not report.errors


def rows_by_day(table: str, column: str = "date") -> dict[str, int]:
    with open_warehouse() as client:
        result = client.query(f"SELECT toString({column}) AS d, count() FROM {table} GROUP BY d ORDER BY d")
        return dict(result.result_rows)


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return [entry.dagster_event.event_specific_data for entry in entries]


def dbt_commands(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The dbt command lines dagster-dbt logged in the run."""
    messages = [entry.user_message for entry in instance.all_logs(run_id)]
    return [m for m in messages if m.startswith("Finished dbt command")]


def test_a_range_lands_and_builds_in_one_run(defs, sample, jquants_server, gogooku_home, tmp_path, monkeypatch) -> None:
    """`backfill(D1, D2)`: backfill_job over two days as one run (single-run backfill policy), then the data tests
    and source freshness of data_quality_job."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DAGSTER_PG_HOST", raising=False)
    land_history(sample.dir, tmp_path)
    with pytest.raises(ValueError, match="before its start"):
        backfill(date.fromisoformat(DAY2), date.fromisoformat(DAY1))
    assert backfill(date.fromisoformat(DAY1), date.fromisoformat(DAY2))

    with dg.DagsterInstance.from_config(str(gogooku_home / "dagster")) as instance:
        [run] = instance.get_runs(dg.RunsFilter(job_name="backfill_job"))
        assert run.is_success

        # landing: each asset recorded both partitions, and the days' rows are in jquants_raw
        for name, ds in DATASETS.items():
            assert instance.get_materialized_partitions(dg.AssetKey(ds.asset_key)) == {DAY1, DAY2}, name
        expected = sample.rows("equities_bars_daily", date.fromisoformat(DAY1), date.fromisoformat(DAY2))
        landed = rows_by_day(DATASETS["equities_bars_daily"].table, "Date")
        assert {DAY1: landed[DAY1], DAY2: landed[DAY2]} == {
            d: expected.filter(expected["Date"] == d).height for d in (DAY1, DAY2)
        }

        # dbt: whole-history models include the days; incremental models got the range as a half-open window
        assert {DAY1, DAY2} <= set(rows_by_day("marts.fct_daily_prices_adjusted"))
        commands = dbt_commands(instance, run.run_id)
        assert any("--exclude config.materialized:incremental" in c for c in commands), commands
        if dbt_incremental_models is not None:
            assert any('"min_date": "2024-01-04", "max_date": "2024-01-06"' in c for c in commands), commands
            assert list(rows_by_day("marts.fct_daily_features")) == [DAY1, DAY2]  # only the window was built
            assert instance.get_materialized_partitions(dg.AssetKey(["marts", "fct_daily_features"])) == {DAY1, DAY2}

        # dbt tests surfaced as asset checks, all passing on the sample
        evaluations = check_evaluations(instance, run.run_id)
        assert len(evaluations) >= 20
        assert [e.check_name for e in evaluations if not e.passed] == []
        assert lock_holder(gogooku_home / "clickhouse") is None  # no client left open

        # data_quality_job (unpartitioned, checks only): dbt tests again plus source freshness of the landing
        quality = defs.resolve_job_def("data_quality_job").execute_in_process(instance=instance, raise_on_error=False)
        checks = {(e.asset_key.path[-1], e.check_name): e for e in quality.get_asset_check_evaluations()}
        # full_rebuild_job (its run tag, not run config, reaches range runs): incremental models over all history
        if dbt_incremental_models is not None:
            features = dg.AssetKey(["marts", "fct_daily_features"])
            rebuild = defs.resolve_job_def("full_rebuild_job").execute_in_process(
                instance=instance, asset_selection=[features], tags=range_tags(date(2023, 12, 1), date(2024, 1, 5))
            )
            assert rebuild.success
            [command] = dbt_commands(instance, rebuild.run_id)
            assert "--full-refresh" in command and "--vars" not in command
            history = sample.rows("equities_bars_daily", date(2023, 12, 1), date.fromisoformat(DAY2))
            assert list(rows_by_day("marts.fct_daily_features")) == sorted(set(history["Date"]))
    freshness = {asset: e for (asset, name), e in checks.items() if name == FRESHNESS_CHECK}
    assert freshness["equities_bars_daily"].passed
    assert freshness["equities_bars_daily"].metadata["status"].value == "pass"
    assert "markets_calendar" not in freshness  # its source has `freshness: null`
    assert len(checks) > len(freshness) >= 4


def land_all_before(sample: Sample, day: date, tmp_path: Path) -> None:
    """Land every sample row dated before `day` as bulk files, so a refresh of `day` lands it through the API."""
    history = tmp_path / "history_before"
    history.mkdir()
    for name in DATASETS:
        sample.rows(name, end=day - timedelta(days=1)).write_csv(history / f"{name}_history.csv")
    with open_warehouse() as client:
        report = ingest_bulk(client, history)
    assert not report.errors


def mlflow_runs(tracking_uri: str) -> list:
    from mlflow import MlflowClient

    from ml.training import EXPERIMENT

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id]) if experiment else []


@pytest.mark.skipif(dbt_incremental_models is None, reason="the project has no incremental model yet")
def test_refresh_lands_builds_materializes_and_logs_a_training_run(
    sample, jquants_server, gogooku_home, tmp_path, monkeypatch
) -> None:
    """`gogooku refresh --date D` on the sample market: the whole daily job (landing, dbt, Feast, the ranker and
    the report) on the project's own instance, ending with one MLflow run.

    The mart's history comes first from a plain dbt build of the days before D (the sample's four months): one
    walk-forward fold is all they allow, set through the ranker's run config as `gogooku refresh` could not.
    """
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DAGSTER_PG_HOST", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    day = SAMPLE_LAST_DAY
    land_all_before(sample, day, tmp_path)
    models = ["--exclude", "resource_type:test", "resource_type:unit_test"]
    assert run_dbt(["build", *models, "--target-path", str(tmp_path / "dbt_history")]) == 0
    assert day.isoformat() not in rows_by_day("marts.fct_daily_features")
    with pytest.raises(ValueError, match="not a TSE trading day"):
        refresh(date(2024, 1, 3))

    assert refresh(day, run_config={"ops": {"ranker_model": {"config": {"n_folds": 1}}}})

    with dg.DagsterInstance.from_config(str(gogooku_home / "dagster")) as instance:
        [run] = instance.get_runs(dg.RunsFilter(job_name="daily_refresh_job"))
        assert run.is_success and run.tags["dagster/partition"] == day.isoformat()
        for ds in DATASETS.values():  # the day was landed by this run, through the API
            assert instance.get_materialized_partitions(dg.AssetKey(ds.asset_key)) == {day.isoformat()}
        assert instance.get_materialized_partitions(feature_store.key) == {day.isoformat()}
        model = instance.get_latest_materialization_event(ranker_model.key)
        report = instance.get_latest_materialization_event(run_report.key)
        assert model is not None and report is not None
        assert model.run_id == report.run_id == run.run_id
        materialization = model.asset_materialization
        assert materialization.partition is None  # the ranker is not partitioned: one model for the run
    metadata = materialization.metadata
    assert metadata["model_name"].value == "gogooku_ranker" and metadata["model_version"].value == "1"
    assert metadata["as_of"].value == day.isoformat() and metadata["n_folds"].value == 1

    # the training run is logged in MLflow under $GOGOOKU_HOME (sqlite)
    tracking = metadata["tracking_uri"].value
    assert tracking == f"sqlite:///{gogooku_home / 'mlflow' / 'mlflow.db'}"
    [logged] = mlflow_runs(tracking)
    assert logged.info.run_id == metadata["run_id"].value and logged.info.status == "FINISHED"
    assert logged.data.params["n_folds"] == "1" and logged.data.params["as_of"] == day.isoformat()
    assert "rank_ic_mean" in logged.data.metrics

    # the mart holds the day; the report's data tests are those of this run's two dbt steps
    assert day.isoformat() in rows_by_day("marts.fct_daily_features")
    page = (gogooku_home / "report" / "index.html").read_text()
    assert f"Dagster run <code>{run.run_id}</code> (2 dbt steps:" in page
    assert logged.info.run_id in page
    assert lock_holder(gogooku_home / "clickhouse") is None


def test_weekly_training_registers_the_ranker_and_writes_the_report(gogooku_home, instance, defs, monkeypatch) -> None:
    """weekly_training_job on a synthetic feature mart (tests/ml/synthetic_mart.py, the ml tests' fixture data)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "ml"))
    mart = pytest.importorskip("synthetic_mart", reason="tests/ml/synthetic_mart.py builds the feature mart")
    mart.create_mart(mart.synthetic_mart())
    result = defs.resolve_job_def("weekly_training_job").execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    [model] = result.asset_materializations_for_node("ranker_model")
    assert model.metadata["model_name"].value == "gogooku_ranker"
    assert model.metadata["model_version"].value == "1"
    assert any(key.endswith("rank_ic_mean") for key in model.metadata)
    [report] = result.asset_materializations_for_node("run_report")
    assert Path(report.metadata["path"].value).is_file()
    assert lock_holder(gogooku_home / "clickhouse") is None  # Feast's cached client released
