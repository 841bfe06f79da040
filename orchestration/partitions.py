"""Daily partitions in Asia/Tokyo and the day window a run covers."""

from __future__ import annotations

from datetime import date, timedelta

from dagster import AssetExecutionContext, DailyPartitionsDefinition

# One partition per calendar day (non-trading days land as empty days). end_offset=1: today's partition exists
# from midnight JST, so the daily refresh after today's close can run it.
DAILY_PARTITIONS = DailyPartitionsDefinition(start_date="2008-01-01", timezone="Asia/Tokyo", end_offset=1)


def partition_days(context: AssetExecutionContext) -> tuple[date, date]:
    """The first and last day (inclusive) of the run's partition or partition range."""
    window = context.partition_time_window
    return window.start.date(), (window.end - timedelta(days=1)).date()


def dbt_window_vars(context: AssetExecutionContext) -> dict[str, str]:
    """`{"min_date", "max_date"}`: the run's days as the half-open window the incremental models filter on."""
    window = context.partition_time_window
    return {"min_date": window.start.date().isoformat(), "max_date": window.end.date().isoformat()}


# Run tags that make one run cover a range of partitions (what single-run backfills set); dagster exports them
# only from a private module (dagster._core.storage.tags).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: date, last: date) -> dict[str, str]:
    """Tags for one run over the days [first, last]."""
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
