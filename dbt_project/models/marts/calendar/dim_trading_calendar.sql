{{
    config(
        engine='MergeTree()',
        order_by='date',
    )
}}

with

days as (
    select * from {{ ref('int_calendar_days_classified') }}
),

indexed as (
    select
        date,
        is_trading_day,
        holiday_name,
        is_trading_day_by_rule,
        jquants_holiday_division,
        if(
            is_trading_day = 1,
            toNullable(toUInt32(sum(is_trading_day) over (order by date rows between unbounded preceding and current row)) - 1),
            null
        ) as trading_day_index,
        nullIf(
            maxIf(date, is_trading_day = 1) over (order by date rows between unbounded preceding and 1 preceding),
            toDate(0)
        ) as prev_trading_day,
        nullIf(
            minIf(date, is_trading_day = 1) over (order by date rows between 1 following and unbounded following),
            toDate(0)
        ) as next_trading_day
    from days
),

final as (
    select
        date,
        is_trading_day,
        trading_day_index,
        prev_trading_day,
        next_trading_day,
        holiday_name,
        is_trading_day_by_rule,
        jquants_holiday_division
    from indexed
)

select * from final
