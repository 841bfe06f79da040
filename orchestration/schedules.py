"""Schedules in Asia/Tokyo. Each checks the TSE calendar rule itself and skips non-trading days."""

from datetime import date, timedelta

from dagster import RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from orchestration.calendar import TOKYO, is_tse_trading_day, previous_trading_day
from orchestration.jobs import calendar_update_job, daily_refresh_job, data_quality_job, weekly_training_job
from orchestration.partitions import range_tags

TZ = "Asia/Tokyo"


def _local_day(context: ScheduleEvaluationContext) -> date:
    return context.scheduled_execution_time.astimezone(TOKYO).date()


@schedule(
    job=daily_refresh_job,
    cron_schedule="30 18 * * 1-5",
    execution_timezone=TZ,
    description="After the close (18:30 JST) on TSE trading days: the day's partition of daily_refresh_job.",
)
def daily_refresh_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    day = _local_day(context)
    if not is_tse_trading_day(day):
        return SkipReason(f"{day} is not a TSE trading day (weekend, holiday or Dec 31 - Jan 3)")
    return RunRequest(run_key=f"daily-refresh-{day}", partition_key=day.isoformat())


@schedule(
    job=weekly_training_job,
    cron_schedule="0 6 * * 6",
    execution_timezone=TZ,
    description="Saturday 06:00 JST: train and register the ranker on the week's data, then the report.",
)
def weekly_training_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    return RunRequest(run_key=f"weekly-training-{_local_day(context)}")


@schedule(
    job=data_quality_job,
    cron_schedule="30 7 * * 1-5",
    execution_timezone=TZ,
    description="07:30 JST on trading days: dbt tests and source freshness, before the market opens.",
)
def morning_freshness_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    day = _local_day(context)
    if not is_tse_trading_day(day):
        return SkipReason(f"{day} is not a TSE trading day: no freshness expected to change")
    return RunRequest(
        run_key=f"morning-quality-{day}", tags={"gogooku/checked_for": previous_trading_day(day).isoformat()}
    )


@schedule(
    job=calendar_update_job,
    cron_schedule="0 5 1 * *",
    execution_timezone=TZ,
    description="1st of the month 05:00 JST: land the previous month's J-Quants calendar, rebuild the calendar.",
)
def monthly_calendar_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    first_of_month = _local_day(context).replace(day=1)
    last = first_of_month - timedelta(days=1)
    first = last.replace(day=1)
    return RunRequest(run_key=f"calendar-{first:%Y-%m}", tags=range_tags(first, last))


SCHEDULES = [daily_refresh_schedule, weekly_training_schedule, morning_freshness_schedule, monthly_calendar_schedule]
