{{
    config(
        engine='MergeTree()',
        order_by='date',
        query_settings={'join_use_nulls': 1},
    )
}}

-- Every calendar day from 2008-01-01 through Dec 31 of next year, classified twice: by the TSE rule
-- (weekday, not a jpholiday holiday, not Dec 31 - Jan 3) and by J-Quants /markets/calendar where landed.

with

days as (
    select toDate('2008-01-01') + number as date
    from numbers(toUInt64(dateDiff('day', toDate('2008-01-01'), makeDate(toYear(today()) + 1, 12, 31)) + 1))
),

holidays as (
    select
        holiday_date,
        holiday_name
    from {{ ref('jp_holidays') }}
),

jquants as (
    select
        date,
        holiday_division,
        is_trading_day
    from {{ ref('stg_jquants__calendar_days') }}
),

classified as (
    select
        days.date as date,
        nullIf(holidays.holiday_name, '') as holiday_name,
        toUInt8(
            toDayOfWeek(days.date) <= 5
            and holidays.holiday_date is null
            and not (toMonth(days.date) = 12 and toDayOfMonth(days.date) = 31)
            and not (toMonth(days.date) = 1 and toDayOfMonth(days.date) <= 3)
        ) as is_trading_day_by_rule,
        jquants.holiday_division as jquants_holiday_division,
        jquants.is_trading_day as jquants_is_trading_day
    from days
    left join holidays on days.date = holidays.holiday_date
    left join jquants on days.date = jquants.date
),

final as (
    select
        date,
        holiday_name,
        is_trading_day_by_rule,
        jquants_holiday_division,
        jquants_is_trading_day,
        coalesce(jquants_is_trading_day, is_trading_day_by_rule) as is_trading_day
    from classified
)

select * from final
