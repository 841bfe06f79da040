"""The dbt project as assets: one translator, two `@dbt_assets` over the one `DbtProject`.

- `dbt_models`: everything but incremental models (staging views, calendar, adjusted prices, TOPIX, seeds), rebuilt
  whole; not partitioned.
- `dbt_incremental_models`: `config.materialized:incremental`, daily partitions; a run's partition window reaches
  dbt as `--vars '{"min_date": ..., "max_date": ...}'` (half-open), which those models filter on.

dbt tests become asset checks (dagster-dbt's `enable_asset_checks`, on by default). dbt runs as a subprocess that
opens the embedded warehouse itself: nothing here holds a warehouse client while it runs.
"""

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, BackfillPolicy, Config
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from pydantic import Field

from gogooku.settings import DBT_SKIP_UNIT_TESTS, load_settings
from orchestration.dbt_project import DBT_PROJECT, load_manifest
from orchestration.instance import WAREHOUSE_POOL
from orchestration.partitions import DAILY_PARTITIONS, dbt_window_vars

INCREMENTAL = "config.materialized:incremental"


class GogookuDbtTranslator(DagsterDbtTranslator):
    """Groups from the folder a node lives in: `models/<layer>/...` -> `<layer>` (staging, intermediate, marts);
    a node at the top of its folder (a seed) -> its resource type (`seeds`)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        folders = fqn[1:-1]  # fqn = [project, *folders, name]
        return folders[0] if folders else f"{dbt_resource_props['resource_type']}s"


TRANSLATOR = GogookuDbtTranslator()


def dbt_model_key(name: str) -> AssetKey:
    """The asset key of dbt model `name` (`[schema, name]`), for Python assets that read it."""
    for node in load_manifest().get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("name") == name:
            return TRANSLATOR.get_asset_key(node)
    raise KeyError(f"dbt model {name!r} is not in the manifest")


# A run tagged so (full_rebuild_job is) builds with --full-refresh; run config would not reach a run over a range
# of partitions, tags do.
FULL_REFRESH_TAG = "gogooku/dbt_full_refresh"


class DbtBuildConfig(Config):
    full_refresh: bool = Field(default=False, description="Pass --full-refresh: rebuild incremental models whole.")


def full_refresh(context: AssetExecutionContext, config: DbtBuildConfig) -> bool:
    return config.full_refresh or context.run.tags.get(FULL_REFRESH_TAG) == "true"


# dbt copies `DBT_ENV_CUSTOM_ENV_<NAME>` variables into its artifacts' `metadata.env` as `<NAME>`: the Dagster run
# a run_results.json belongs to (ml.report groups the dbt steps of one run by it).
RUN_ID_ENV = "DBT_ENV_CUSTOM_ENV_DAGSTER_RUN_ID"


@contextmanager
def dbt_environment(run_id: str | None = None) -> Iterator[None]:
    """GOGOOKU_HOME made absolute for the dbt subprocess: profiles.yml would resolve a relative one against
    dbt_project/, not against the working directory as the `gogooku` command does. With `run_id`, dbt's
    artifacts name the Dagster run (`metadata.env.DAGSTER_RUN_ID`)."""
    settings = load_settings()
    saved = {k: os.environ.get(k) for k in ("GOGOOKU_HOME", "GOGOOKU_TARGET", RUN_ID_ENV)}
    os.environ.update(GOGOOKU_HOME=str(settings.home), GOGOOKU_TARGET=settings.target)
    if run_id:
        os.environ[RUN_ID_ENV] = run_id
    else:
        os.environ.pop(RUN_ID_ENV, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_target_path(step: str) -> Path:
    """A fresh dbt target directory (artifacts and logs) for one invocation, under `$GOGOOKU_HOME/dbt/runs`:
    with the rest of the state, not in the repository's dbt_project/target where every run would leave one."""
    return load_settings().dbt_runs_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{step}-{uuid.uuid4().hex[:8]}"


def dbt_build(context: AssetExecutionContext, dbt: DbtCliResource, args: list[str]) -> Iterator[Any]:
    with dbt_environment(context.run.run_id):
        # starts the dbt subprocess with this environment
        invocation = dbt.cli(
            ["build", *args, *DBT_SKIP_UNIT_TESTS], context=context, target_path=dbt_target_path(context.op.name)
        )
    yield from invocation.stream()


def has_incremental_models(manifest: Mapping[str, Any]) -> bool:
    return any(
        node.get("resource_type") == "model" and node.get("config", {}).get("materialized") == "incremental"
        for node in manifest.get("nodes", {}).values()
    )


@dbt_assets(
    manifest=load_manifest(),
    project=DBT_PROJECT,
    exclude=INCREMENTAL,
    name="dbt_models",
    dagster_dbt_translator=TRANSLATOR,
    pool=WAREHOUSE_POOL,
)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig) -> Iterator[Any]:
    yield from dbt_build(context, dbt, ["--full-refresh"] if full_refresh(context, config) else [])


def _incremental_assets() -> AssetsDefinition | None:
    if not has_incremental_models(load_manifest()):
        return None  # dagster-dbt rejects an empty selection; the project may not have one yet

    @dbt_assets(
        manifest=load_manifest(),
        project=DBT_PROJECT,
        select=INCREMENTAL,
        name="dbt_incremental_models",
        dagster_dbt_translator=TRANSLATOR,
        partitions_def=DAILY_PARTITIONS,
        backfill_policy=BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def dbt_incremental_models(
        context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig
    ) -> Iterator[Any]:
        if full_refresh(context, config):
            # The models filter on the window: a full refresh keeps the default window (all history), or it
            # would rebuild the table with only this run's days.
            context.log.info("full refresh: building all history, not the partition window")
            yield from dbt_build(context, dbt, ["--full-refresh"])
        elif context.has_partition_key or context.has_partition_key_range:
            yield from dbt_build(context, dbt, ["--vars", json.dumps(dbt_window_vars(context))])
        else:  # only tests selected, in an unpartitioned run (data_quality_job)
            yield from dbt_build(context, dbt, [])

    return dbt_incremental_models


dbt_incremental_models = _incremental_assets()
DBT_ASSETS: list[AssetsDefinition] = [a for a in (dbt_models, dbt_incremental_models) if a is not None]
