"""Run the daily refresh (or a backfill) in this process, on the project's Dagster instance.

`gogooku refresh [--date D]` calls `refresh(D)`: the `daily_refresh_job` partition of trading day D (default:
the newest trading day J-Quants has published), executed in process so no daemon is needed. It lands the day,
builds it with dbt, loads the Feast online store, trains and registers the ranker (one MLflow run) and rewrites
the report; the run, its materializations and check results are stored in the instance that `dagster dev` shows
(`$DAGSTER_HOME`, else `$GOGOOKU_HOME/dagster`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from orchestration import calendar as tse
from orchestration.instance import dagster_instance
from orchestration.partitions import DAILY_PARTITIONS, range_tags


def _check_day(day: date) -> None:
    if not DAILY_PARTITIONS.has_partition_key(day.isoformat()):
        raise ValueError(f"{day} is outside the daily partitions (2008-01-01 through tomorrow, JST)")


def refresh(day: date | None = None, run_config: Mapping[str, Any] | None = None) -> bool:
    """Execute `daily_refresh_job` for trading day `day` in process; True when the run succeeded.

    `run_config` is the job's run config, e.g. `{"ops": {"ranker_model": {"config": {"n_folds": 2}}}}`.
    Raises ValueError for a day that is not a TSE trading day or has no partition.
    """
    day = day or tse.latest_published_trading_day(tse.now_tokyo())
    if not tse.is_tse_trading_day(day):
        raise ValueError(f"{day} is not a TSE trading day (weekend, holiday or Dec 31 - Jan 3): nothing to refresh")
    _check_day(day)
    from orchestration.definitions import defs  # loads the dbt manifest: only when asked

    job = defs.resolve_job_def("daily_refresh_job")
    with dagster_instance() as instance:
        result = job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            run_config=dict(run_config or {}),
            raise_on_error=False,
            tags={"gogooku/trigger": "refresh"},
        )
    return result.success


def backfill(first: date, last: date) -> bool:
    """Execute `backfill_job` over the days [first, last] as one run (single-run backfill policy); True on success."""
    if last < first:
        raise ValueError(f"backfill end {last} is before its start {first}")
    _check_day(first)
    _check_day(last)
    from orchestration.definitions import defs

    job = defs.resolve_job_def("backfill_job")
    with dagster_instance() as instance:
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, tags={**range_tags(first, last), "gogooku/trigger": "backfill"}
        )
    return result.success
