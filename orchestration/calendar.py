"""The TSE trading calendar by rule, and which trading day's data J-Quants should have published by when.

The rule is the one `dim_trading_calendar` applies in SQL (`is_trading_day_by_rule`): a weekday that is not a
Japanese national or substitute holiday (jpholiday) and not Dec 31 - Jan 3. Schedules and sensors use it
because they must not open the warehouse (chDB: one process at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jpholiday

TOKYO = ZoneInfo("Asia/Tokyo")
# J-Quants publishes the day's bars, TOPIX and listings by about 17:00 JST and the evening's statements later;
# the daily refresh runs at 18:30 and a day counts as published from 18:00.
PUBLISHED_AT = time(18, 0)


def is_tse_trading_day(d: date) -> bool:
    """Whether the TSE trades on `d`: a weekday, not a jpholiday holiday, not Dec 31 - Jan 3."""
    if d.weekday() >= 5:
        return False
    if (d.month == 12 and d.day == 31) or (d.month == 1 and d.day <= 3):
        return False
    return not jpholiday.is_holiday(d)


def previous_trading_day(d: date) -> date:
    """The last trading day strictly before `d`."""
    d -= timedelta(days=1)
    while not is_tse_trading_day(d):
        d -= timedelta(days=1)
    return d


def next_trading_day(d: date) -> date:
    """The first trading day strictly after `d`."""
    d += timedelta(days=1)
    while not is_tse_trading_day(d):
        d += timedelta(days=1)
    return d


def trading_days(first: date, last: date) -> Iterator[date]:
    """Trading days in [first, last]."""
    d = first if is_tse_trading_day(first) else next_trading_day(first)
    while d <= last:
        yield d
        d = next_trading_day(d)


def now_tokyo() -> datetime:
    """The current time in Asia/Tokyo (sensors read the clock through this, so tests can set it)."""
    return datetime.now(TOKYO)


def latest_published_trading_day(now: datetime, published_at: time = PUBLISHED_AT) -> date:
    """The newest trading day whose data J-Quants should have published by `now` (any timezone)."""
    local = now.astimezone(TOKYO)
    today = local.date()
    if is_tse_trading_day(today) and local.time() >= published_at:
        return today
    return previous_trading_day(today)
