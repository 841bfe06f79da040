"""The code location loads, and its parts fit together: keys shared with dbt, pools, partitions, policies, lineage."""

from __future__ import annotations

import json
from pathlib import Path

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

REPO_ROOT = Path(__file__).resolve().parents[2]

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


def _path(graph, start: dg.AssetKey, end: dg.AssetKey, avoid: frozenset = frozenset()) -> list[dg.AssetKey]:  # noqa: ANN001
    """A shortest chain of parent -> child edges from `start` to `end` not through `avoid` ([] when none)."""
    previous: dict[dg.AssetKey, dg.AssetKey | None] = {start: None}
    queue = [start]
    for key in queue:  # breadth first: the queue grows while it is walked
        for child in sorted(graph.get(key).child_keys, key=str):
            if child not in previous and child not in avoid:
                previous[child] = key
                queue.append(child)
    if end not in previous:
        return []
    chain = [end]
    while previous[chain[-1]] is not None:
        chain.append(previous[chain[-1]])
    return chain[::-1]


def test_dagster_dev_shows_lineage_from_landing_through_dbt_to_the_model() -> None:
    """What `dagster dev` loads (workspace.yaml's module) has a chain of edges from each landing asset of the
    daily bars through the dbt layers (staging, intermediate, the feature mart) to feature_store, the ranker
    and the report."""
    import importlib

    import yaml

    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    [location] = workspace["load_from"]
    module = importlib.import_module(location["python_module"]["module_name"])
    [loaded] = [v for v in vars(module).values() if isinstance(v, dg.Definitions)]
    graph = loaded.resolve_asset_graph()
    bars = dg.AssetKey(DATASETS["equities_bars_daily"].asset_key)
    # not through the commit log: every landing asset feeds it, and staging reads it besides its own table
    chain = _path(graph, bars, run_report.key, avoid=frozenset({LOAD_LOG_ASSET.key}))
    assert chain, "no path from the landing of daily bars to the report"
    assert chain[-4:] == [FEATURE_MART, feature_store.key, ranker_model.key, run_report.key]
    dbt = {key for a in DBT_ASSETS for key in a.keys}
    assert all(key in dbt for key in chain[1:-3]), chain  # landing -> dbt models only -> Feast
    layers = [key.path[0] for key in chain[1:-3]]
    assert layers[0] == "staging" and "intermediate" in layers and layers[-1] == "marts", chain
    for ds in DATASETS.values():  # every landing asset reaches the model
        assert _path(graph, dg.AssetKey(ds.asset_key), ranker_model.key), ds.name


def test_jobs_select_what_they_say(defs: dg.Definitions) -> None:
    def keys(job: str) -> set[dg.AssetKey]:
        return set(defs.resolve_job_def(job).asset_layer.selected_asset_keys)

    landing = {key for a in INGESTION_ASSETS.values() for key in a.keys}
    dbt = {key for a in DBT_ASSETS for key in a.keys}
    assert keys("daily_refresh_job") == landing | dbt | {feature_store.key, ranker_model.key, run_report.key}
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
    assert defs.resolve_job_def("weekly_training_job").partitions_def is None


def test_the_daily_refresh_trains_after_feast_in_each_partition_run(defs: dg.Definitions, monkeypatch) -> None:
    """The daily job is daily-partitioned, the ranker and the report are not: Dagster runs them once in the run of
    a partition, after feature_store (the steps' order follows the asset graph)."""
    assert feature_store.partitions_def == DAILY_PARTITIONS
    assert ranker_model.partitions_def is None and run_report.partitions_def is None
    from dagster._core.execution.api import create_execution_plan  # what a run of the job executes

    monkeypatch.setenv("JQUANTS_API_KEY", "unused")  # the landing steps' resource config needs it to plan
    job = defs.resolve_job_def("daily_refresh_job")
    plan = create_execution_plan(job, run_config={}, tags={"dagster/partition": "2024-03-29"})
    order = [step.key for step in plan.get_steps_to_execute_in_topo_order()]
    assert order.index("feature_store") < order.index("ranker_model") < order.index("run_report")
    assert order.index("dbt_incremental_models") < order.index("feature_store")
    assert {"ranker_model", "run_report"} <= set(plan.step_keys_to_execute)
    # ranker_model takes ml.training.train's parameters as run config, defaulting to train's own
    config = ranker_model.op.config_schema.as_field().config_type.fields
    assert config["n_folds"].default_value == 4 and config["horizon"].default_value == 5


def test_full_rebuild_job_is_tagged_for_full_refresh(defs: dg.Definitions) -> None:
    assert defs.resolve_job_def("full_rebuild_job").tags[FULL_REFRESH_TAG] == "true"
    assert FULL_REFRESH_TAG not in defs.resolve_job_def("daily_refresh_job").tags


def test_dbt_resource_runs_the_venv_dbt(defs: dg.Definitions) -> None:
    resource = defs.resources["dbt"]
    assert isinstance(resource, DbtCliResource)
    assert resource.dbt_executable.endswith("dbt")
