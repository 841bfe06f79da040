"""Feast materialization, the ranker and the run report. `ml/` is imported inside each body (it is heavy).

`feature_store` is daily-partitioned like the landing and the incremental dbt models; `ranker_model` and
`run_report` are not (there is one current model, trained on all the history the mart holds). A partitioned job
may select them too (daily_refresh_job does): Dagster runs an unpartitioned asset once in a run of any partition
or range of partitions, after its partitioned parents, and records its materialization without a partition.
"""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from dagster import AssetExecutionContext, BackfillPolicy, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from orchestration.assets.dbt import dbt_model_key
from orchestration.instance import WAREHOUSE_POOL
from orchestration.partitions import DAILY_PARTITIONS

# The mart Feast reads (ml.feature_store.MART_NAME).
FEATURE_MART = dbt_model_key("fct_daily_features")


def _scalar_metadata(values: dict[str, Any]) -> dict[str, Any]:
    """Numbers, text and flags as metadata values; dates as ISO text; anything else as JSON when small."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, bool | int | float | str):
            out[key] = value
        elif isinstance(value, date | datetime):
            out[key] = value.isoformat()
        elif isinstance(value, dict | list) and len(str(value)) < 4000:
            out[key] = MetadataValue.json(value)
    return out


@contextmanager
def warehouse_released() -> Iterator[None]:
    """Whatever the step did, leave no chDB client open when it ends: Feast caches one per thread, and the next
    step (or dbt's subprocess) needs the directory."""
    try:
        yield
    finally:
        from ml.feature_store import release_offline_client

        release_offline_client()


@asset(
    deps=[FEATURE_MART],
    description="Feast: the feature repo applied and the online store loaded through the partition's end.",
    group_name="ml",
    kinds={"feast"},
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def feature_store(context: AssetExecutionContext) -> MaterializeResult:
    from ml.feature_store import materialize

    end = context.partition_time_window.end  # midnight JST after the last day: that day's close is included
    with warehouse_released():
        summary = materialize(end=end)
    views = summary.get("views", {})
    return MaterializeResult(
        metadata={
            "end": summary.get("end", end.isoformat()),
            "online_store": str(summary.get("online_store", "")),
            "views": MetadataValue.json(views),
            "seconds": float(summary.get("seconds", {}).get("total", 0.0)),
        }
    )


class RankerConfig(Config):
    """`ml.training.train`'s parameters (run config `ops: {ranker_model: {config: ...}}`); the defaults are its."""

    horizon: int = Field(default=5, description="Label horizon in sessions: trains on target_ret_<horizon>d.")
    n_folds: int = Field(
        default=4, description="Walk-forward validation folds (each needs 20 training sessions beyond the purge)."
    )


@asset(
    deps=[feature_store],
    description=(
        "The cross-sectional ranker trained walk-forward on the feature store through the newest labelled day, "
        "logged as an MLflow run and registered (the champion alias moves when it validates better)."
    ),
    group_name="ml",
    kinds={"mlflow", "lightgbm"},
    pool=WAREHOUSE_POOL,
)
def ranker_model(context: AssetExecutionContext, config: RankerConfig) -> MaterializeResult:
    from ml.training import train

    with warehouse_released():
        result = train(horizon=config.horizon, n_folds=config.n_folds)
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "splits"}
    metrics = fields.pop("metrics", {}) or {}
    context.log.info(f"registered {fields.get('model_name')} v{fields.get('model_version')}")
    return MaterializeResult(metadata={**_scalar_metadata(fields), **_scalar_metadata(metrics)})


@asset(
    deps=[ranker_model],
    description="The HTML run report: coverage, data tests, features and the model.",
    group_name="ml",
    kinds={"html"},
    pool=WAREHOUSE_POOL,
)
def run_report(context: AssetExecutionContext) -> MaterializeResult:
    from ml.report import write_report

    with warehouse_released():
        path = write_report()
    context.log.info(f"report written to {path}")
    return MaterializeResult(metadata={"path": MetadataValue.path(str(path))})


ML_ASSETS = [feature_store, ranker_model, run_report]
