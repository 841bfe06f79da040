"""Jobs, each an asset selection; dbt models are selected with dbt selection syntax. A job that selects
partitioned assets is partitioned like them (daily, Asia/Tokyo).

Partitioned jobs run one day (or, with BackfillPolicy.single_run on every partitioned asset, a range of days in
one run: launch an asset backfill, or a run tagged `dagster/asset_partition_range_start/end`). Unpartitioned
assets in a partitioned job (the whole-history dbt models, the ranker, the report) run once in each run.
"""

from __future__ import annotations

import operator
from functools import reduce

from dagster import AssetSelection, define_asset_job
from dagster_dbt import build_dbt_asset_selection

from orchestration.alerts import alert_on_step_failure
from orchestration.assets.dbt import DBT_ASSETS, FULL_REFRESH_TAG
from orchestration.assets.ingestion import INGESTION_ASSETS
from orchestration.assets.ml import feature_store, ranker_model, run_report
from orchestration.checks import jquants_source_freshness

HOOKS = {alert_on_step_failure}


def dbt_selection(select: str) -> AssetSelection:
    """The dbt nodes matching a dbt selection string, across both dbt asset definitions (build_dbt_asset_selection
    takes one definition at a time and keeps to its keys)."""
    return reduce(operator.or_, (build_dbt_asset_selection([a], dbt_select=select) for a in DBT_ASSETS))


# Without their source-freshness checks: those run in data_quality_job.
LANDING = AssetSelection.assets(*INGESTION_ASSETS.values()).without_checks()
DBT_ALL = dbt_selection("fqn:*")
# The calendar marts and everything upstream of them in dbt (staging, intermediate, the holiday seed) ...
CALENDAR_MODELS = dbt_selection("+path:models/marts/calendar")
# ... and the landing asset(s) those read.
CALENDAR = CALENDAR_MODELS | (CALENDAR_MODELS.upstream(depth=1, include_self=False) & LANDING)
FEATURES = AssetSelection.assets(feature_store)
TRAINING = AssetSelection.assets(ranker_model, run_report)

daily_refresh_job = define_asset_job(
    "daily_refresh_job",
    selection=LANDING | DBT_ALL | FEATURES | TRAINING,
    description=(
        "One trading day: land J-Quants, dbt build (incremental models on the day's window), Feast, then train "
        "and register the ranker (an MLflow run) and write the report."
    ),
    hooks=HOOKS,
)

backfill_job = define_asset_job(
    "backfill_job",
    selection=LANDING | DBT_ALL,
    description=(
        "A range of days in one run (every partitioned asset has BackfillPolicy.single_run): landing and dbt. "
        "Feast serves only the latest values, so run feature_store_sync_job (or the next daily refresh) after."
    ),
    hooks=HOOKS,
)

full_rebuild_job = define_asset_job(
    "full_rebuild_job",
    selection=DBT_ALL,
    tags={FULL_REFRESH_TAG: "true"},
    description=(
        "dbt build --full-refresh of every model (incremental ones over all history). Launch it over the "
        "whole partition range so Dagster records every day as rebuilt."
    ),
    hooks=HOOKS,
)

weekly_training_job = define_asset_job(
    "weekly_training_job",
    selection=TRAINING,
    description=(
        "Train and register the ranker (MLflow), then write the report, on the data already built: no landing, "
        "no dbt. daily_refresh_job trains too; this retrains after backfill_job or full_rebuild_job (which do not "
        "train) and, on its weekly schedule, whether or not the week's refreshes succeeded."
    ),
    hooks=HOOKS,
)

data_quality_job = define_asset_job(
    "data_quality_job",
    selection=AssetSelection.checks_for_assets(*DBT_ASSETS) | AssetSelection.checks(jquants_source_freshness),
    description="dbt tests of every model (as asset checks) and dbt source freshness of the landed tables.",
    hooks=HOOKS,
)

feature_store_sync_job = define_asset_job(
    "feature_store_sync_job",
    selection=FEATURES,
    description="Apply the Feast repo and load the online store through the partition's day.",
    hooks=HOOKS,
)

calendar_update_job = define_asset_job(
    "calendar_update_job",
    selection=CALENDAR,
    description="Land J-Quants /markets/calendar for the days of the run and rebuild the trading calendar models.",
    hooks=HOOKS,
)

model_report_job = define_asset_job(
    "model_report_job",
    selection=AssetSelection.assets(run_report),
    description="Rewrite the report (after a model version was registered outside weekly training).",
    hooks=HOOKS,
)

JOBS = [
    daily_refresh_job,
    backfill_job,
    full_rebuild_job,
    weekly_training_job,
    data_quality_job,
    feature_store_sync_job,
    calendar_update_job,
    model_report_job,
]
