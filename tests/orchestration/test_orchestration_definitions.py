"""The code location loads, and its parts fit together: keys shared with dbt, pools, partitions, policies, lineage."""

from __future__ import annotations

import json

import dagster as dg
from dagster_dbt import DbtCliResource

from ingestion.schema import DATASETS, LOAD_LOG
from orchestration.assets.dbt import DBT_ASSETS, FULL_REFRESH_TAG, dbt_incremental_models, dbt_models
from orchestration.assets.ingestion import INGESTION_ASSETS, LOAD_LOG_ASSET
from orchestration.assets.ml import FEATURE_MART, feature_store, ranker_model, run_report
from orchestration.checks import jquants_source_freshness
from orchestration.dbt_project import DBT_PROJECT
from orchestration.instance import WAREHOUSE_POOL
from orchestration.partitions import DAILY_PARTITIONS

JOBS = {
    "daily_refresh_job",
    "backfill_job",
    "full_rebuild_job",
    "weekly_training_job",
    "data_quality_job",
    "feature_store_sync_job",
    "calendar_update_job",
}
SCHEDULES = {
    "daily_refresh_schedule",
    "weekly_training_schedule",
    "morning_freshness_schedule",
    "monthly_calendar_schedule",
}
SENSORS = {
    "jquants_new_data_sensor",
    "dbt_test_failure_sensor",
    "run_failure_alert_sensor",
    "freshness_breach_sensor",
    "model_registered_sensor",
}


def manifest() -> dict:
    return json.loads(DBT_PROJECT.manifest_path.read_text())


def test_definitions_validate_with_every_job_schedule_and_sensor(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert JOBS <= {job.name for job in repo.get_all_jobs()}
    assert SCHEDULES == {s.name for s in repo.schedule_defs}
    assert SENSORS == {s.name for s in repo.sensor_defs}
    for name in JOBS:
        defs.resolve_job_def(name)  # resolves the selection against the asset graph


def test_landing_asset_keys_are_the_dbt_sources_meta_keys(defs: dg.Definitions) -> None:
    source_keys = {
        s["identifier"]: dg.AssetKey(s["meta"]["dagster"]["asset_key"]) for s in manifest()["sources"].values()
    }
    load_log = source_keys.pop(LOAD_LOG.split(".")[1])  # the commit log every landing asset writes
    landing_keys = {dg.AssetKey(ds.asset_key) for ds in DATASETS.values()}
    assert {key for a in INGESTION_ASSETS.values() for key in a.keys} == landing_keys == set(source_keys.values())
    graph = defs.resolve_asset_graph()
    assert LOAD_LOG_ASSET.key == load_log and graph.get(load_log).parent_keys == landing_keys
    for key in landing_keys:  # the staging models hang off the landing assets
        assert graph.get(key).is_materializable
        assert any(child.path[0] == "staging" for child in graph.get(key).child_keys), key


def test_dbt_assets_split_on_incremental_models_and_checks_come_from_dbt_tests() -> None:
    nodes = [n for n in manifest()["nodes"].values() if n["resource_type"] in ("model", "seed")]
    incremental = {n["name"] for n in nodes if n["config"]["materialized"] == "incremental"}
    assert {k.path[-1] for k in dbt_models.keys} == {n["name"] for n in nodes} - incremental
    assert dbt_models.partitions_def is None
    if incremental:
        assert dbt_incremental_models is not None
        assert {k.path[-1] for k in dbt_incremental_models.keys} == incremental
        assert dbt_incremental_models.partitions_def == DAILY_PARTITIONS
        assert dbt_incremental_models.backfill_policy == dg.BackfillPolicy.single_run()
    tests = [n for n in manifest()["nodes"].values() if n["resource_type"] == "test"]
    checks = {key for a in DBT_ASSETS for key in a.check_keys}
    assert len(checks) >= len([t for t in tests if t.get("attached_node")]) > 0
    assert (
        dg.AssetCheckKey(dg.AssetKey(["staging", "stg_jquants__daily_bars"]), "not_null_stg_jquants__daily_bars_code")
        in checks
    )


def test_translator_groups_follow_the_model_folders() -> None:
    expected = {}
    for node in manifest()["nodes"].values():
        if node["resource_type"] in ("model", "seed"):
            folders = node["original_file_path"].split("/")[1:-1]  # models/<layer>/.../x.sql, seeds/x.csv
            expected[node["name"]] = folders[0] if folders else "seeds"
    groups = {key.path[-1]: group for a in DBT_ASSETS for key, group in a.group_names_by_key.items()}
    assert groups == expected
    assert set(groups.values()) >= {"staging", "intermediate", "marts"}


def test_every_warehouse_step_runs_in_the_warehouse_pool() -> None:
    for assets_def in [*INGESTION_ASSETS.values(), *DBT_ASSETS, feature_store, ranker_model, run_report]:
        assert assets_def.op.pool == WAREHOUSE_POOL, assets_def.op.name
    assert jquants_source_freshness.op.pool == WAREHOUSE_POOL


def test_landing_assets_partitions_and_retry_policy() -> None:
    assert DAILY_PARTITIONS.timezone == "Asia/Tokyo"
    assert DAILY_PARTITIONS.get_first_partition_key() == "2008-01-01"
    for assets_def in INGESTION_ASSETS.values():
        assert assets_def.partitions_def == DAILY_PARTITIONS
        assert assets_def.backfill_policy == dg.BackfillPolicy.single_run()
        policy = assets_def.op.retry_policy
        assert (policy.max_retries, policy.backoff, policy.jitter) == (3, dg.Backoff.EXPONENTIAL, dg.Jitter.PLUS_MINUS)
        assert policy.delay > 0


def test_lineage_runs_landing_dbt_feast_model_report(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    assert FEATURE_MART in {key for a in DBT_ASSETS for key in a.keys}, "the mart Feast reads is a dbt model"
    assert graph.get(feature_store.key).parent_keys == {FEATURE_MART}
    assert graph.get(ranker_model.key).parent_keys == {feature_store.key}
    assert graph.get(run_report.key).parent_keys == {ranker_model.key}
    upstream = dg.AssetSelection.assets(run_report).upstream().resolve(graph)
    assert {key for a in INGESTION_ASSETS.values() for key in a.keys} <= upstream


def test_jobs_select_what_they_say(defs: dg.Definitions) -> None:
    def keys(job: str) -> set[dg.AssetKey]:
        return set(defs.resolve_job_def(job).asset_layer.selected_asset_keys)

    landing = {key for a in INGESTION_ASSETS.values() for key in a.keys}
    dbt = {key for a in DBT_ASSETS for key in a.keys}
    assert keys("daily_refresh_job") == landing | dbt | {feature_store.key}
    assert keys("backfill_job") == landing | dbt
    assert keys("full_rebuild_job") == dbt
    assert keys("weekly_training_job") == {ranker_model.key, run_report.key}
    assert keys("feature_store_sync_job") == {feature_store.key}
    calendar = keys("calendar_update_job")
    assert dg.AssetKey(DATASETS["markets_calendar"].asset_key) in calendar and calendar & landing == {
        dg.AssetKey(DATASETS["markets_calendar"].asset_key)
    }
    assert dg.AssetKey(["marts", "dim_trading_calendar"]) in calendar
    quality = defs.resolve_job_def("data_quality_job")
    assert not quality.asset_layer.selected_asset_keys and quality.partitions_def is None
    assert set(quality.asset_layer.asset_graph.asset_check_keys) >= set(jquants_source_freshness.check_keys)
    for name in ("daily_refresh_job", "backfill_job", "feature_store_sync_job", "calendar_update_job"):
        assert defs.resolve_job_def(name).partitions_def == DAILY_PARTITIONS


def test_full_rebuild_job_is_tagged_for_full_refresh(defs: dg.Definitions) -> None:
    assert defs.resolve_job_def("full_rebuild_job").tags[FULL_REFRESH_TAG] == "true"
    assert FULL_REFRESH_TAG not in defs.resolve_job_def("daily_refresh_job").tags


def test_dbt_resource_runs_the_venv_dbt(defs: dg.Definitions) -> None:
    resource = defs.resources["dbt"]
    assert isinstance(resource, DbtCliResource)
    assert resource.dbt_executable.endswith("dbt")
