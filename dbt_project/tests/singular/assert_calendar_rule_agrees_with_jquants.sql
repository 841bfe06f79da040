-- Lists every date where the TSE rule (weekday, not a jpholiday holiday, not Dec 31 - Jan 3) disagrees with
-- the landed J-Quants /markets/calendar. J-Quants wins in dim_trading_calendar; a row here means the holiday
-- seed is stale (run `make seeds`) or the exchange closed for an unscheduled reason. Warns, never fails a build.
{{ config(severity='warn', store_failures=true) }}

select
    date,
    is_trading_day_by_rule,
    jquants_holiday_division
from {{ ref('int_calendar_days_classified') }}
where
    jquants_is_trading_day is not null
    and jquants_is_trading_day != is_trading_day_by_rule
