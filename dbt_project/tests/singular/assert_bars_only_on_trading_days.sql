-- Fails with every landed bar dated on a day the calendar says the TSE was closed. Such rows are dropped from
-- the marts (they keep trading days only); a failure means the calendar or the landed data is wrong.
select
    bars.code,
    bars.date
from {{ ref('stg_jquants__daily_bars') }} as bars
where bars.date not in (
    select calendar.date from {{ ref('dim_trading_calendar') }} as calendar
    where calendar.is_trading_day = 1
)
