"""The code location: assets, checks, jobs, schedules, sensors and resources, assembled from their modules."""

from __future__ import annotations

from dagster import Definitions

from orchestration.assets.dbt import DBT_ASSETS
from orchestration.assets.ingestion import INGESTION_ASSETS, LOAD_LOG_ASSET
from orchestration.assets.ml import ML_ASSETS
from orchestration.checks import jquants_source_freshness
from orchestration.jobs import JOBS
from orchestration.resources import build_resources
from orchestration.schedules import SCHEDULES
from orchestration.sensors import SENSORS

defs = Definitions(
    assets=[*INGESTION_ASSETS.values(), LOAD_LOG_ASSET, *DBT_ASSETS, *ML_ASSETS],
    asset_checks=[jquants_source_freshness],
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=build_resources(),
)
