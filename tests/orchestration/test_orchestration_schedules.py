"""Schedules evaluated at given times (Asia/Tokyo): trading days run, holidays and the year-end closure skip."""

from __future__ import annotations

from datetime import date, datetime

import dagster as dg
import pytest

from orchestration import calendar as tse
from orchestration.partitions import DAILY_PARTITIONS, RANGE_END_TAG, RANGE_START_TAG
from orchestration.schedules import (
    daily_refresh_schedule,
    monthly_calendar_schedule,
    morning_freshness_schedule,
    weekly_training_schedule,
)


def at(text: str) -> dg.ScheduleEvaluationContext:
    return dg.build_schedule_context(scheduled_execution_time=datetime.fromisoformat(text).replace(tzinfo=tse.TOKYO))


@pytest.mark.parametrize(
    ("day", "trades"),
    [
        (date(2024, 5, 2), True),  # Thursday
        (date(2024, 5, 3), False),  # Constitution Memorial Day
        (date(2024, 5, 6), False),  # substitute holiday
        (date(2024, 5, 4), False),  # Saturday
        (date(2024, 12, 30), True),  # last session of the year
        (date(2024, 12, 31), False),  # year-end closure, a Tuesday
        (date(2025, 1, 2), False),
        (date(2025, 1, 3), False),
        (date(2025, 1, 6), True),
    ],
)
def test_tse_trading_day_rule(day: date, trades: bool) -> None:
    assert tse.is_tse_trading_day(day) is trades


def test_latest_published_trading_day_waits_for_the_evening() -> None:
    def tokyo(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=tse.TOKYO)

    assert tse.latest_published_trading_day(tokyo("2024-05-02 17:59")) == date(2024, 5, 1)
    assert tse.latest_published_trading_day(tokyo("2024-05-02 18:00")) == date(2024, 5, 2)
    assert tse.latest_published_trading_day(tokyo("2024-05-06 20:00")) == date(2024, 5, 2)  # Golden Week
    assert tse.latest_published_trading_day(datetime.fromisoformat("2024-05-02T09:30:00+00:00")) == date(2024, 5, 2)


def test_daily_refresh_runs_the_trading_days_partition() -> None:
    request = daily_refresh_schedule(at("2024-05-02 18:30"))
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2024-05-02"
    assert DAILY_PARTITIONS.has_partition_key(request.partition_key)
    assert daily_refresh_schedule.execution_timezone == "Asia/Tokyo"


@pytest.mark.parametrize("when", ["2024-05-03 18:30", "2024-12-31 18:30", "2025-01-03 18:30"])
def test_daily_refresh_skips_holidays_and_the_year_end(when: str) -> None:
    result = daily_refresh_schedule(at(when))
    assert isinstance(result, dg.SkipReason)
    assert "not a TSE trading day" in result.skip_message


def test_daily_refresh_uses_the_tokyo_day_of_a_utc_tick() -> None:
    # 2024-05-02 09:30 UTC is 18:30 JST the same day; 2024-05-02 16:00 UTC is already May 3 in Tokyo.
    utc = dg.build_schedule_context(scheduled_execution_time=datetime.fromisoformat("2024-05-02T09:30:00+00:00"))
    assert daily_refresh_schedule(utc).partition_key == "2024-05-02"
    late = dg.build_schedule_context(scheduled_execution_time=datetime.fromisoformat("2024-05-02T16:00:00+00:00"))
    assert isinstance(daily_refresh_schedule(late), dg.SkipReason)


def test_morning_freshness_check_on_trading_days() -> None:
    request = morning_freshness_schedule(at("2024-05-07 07:30"))
    assert isinstance(request, dg.RunRequest)
    assert request.tags["gogooku/checked_for"] == "2024-05-02"
    assert isinstance(morning_freshness_schedule(at("2024-05-06 07:30")), dg.SkipReason)


def test_weekly_training_on_saturday_morning() -> None:
    request = weekly_training_schedule(at("2024-05-04 06:00"))
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == "weekly-training-2024-05-04"
    assert weekly_training_schedule.cron_schedule == "0 6 * * 6"


def test_monthly_calendar_refresh_covers_the_previous_month() -> None:
    request = monthly_calendar_schedule(at("2024-03-01 05:00"))
    assert isinstance(request, dg.RunRequest)
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("2024-02-01", "2024-02-29")
    january = monthly_calendar_schedule(at("2025-01-01 05:00"))
    assert (january.tags[RANGE_START_TAG], january.tags[RANGE_END_TAG]) == ("2024-12-01", "2024-12-31")


def test_schedules_are_in_tokyo_time(defs: dg.Definitions) -> None:
    for schedule in defs.get_repository_def().schedule_defs:
        assert schedule.execution_timezone == "Asia/Tokyo", schedule.name
