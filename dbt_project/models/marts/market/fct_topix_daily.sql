{{
    config(
        engine='MergeTree()',
        order_by='date',
        partition_by='toYear(date)',
    )
}}

with

topix as (
    select
        date,
        open,
        high,
        low,
        close
    from {{ ref('stg_jquants__topix_bars') }}
    where date in (
        select calendar.date from {{ ref('dim_trading_calendar') }} as calendar
        where calendar.is_trading_day = 1
    )
),

returns as (
    select
        date,
        open,
        high,
        low,
        close,
        row_number() over (order by date) - 1 as rn,
        close / lagInFrame(close, 1) over (order by date rows between 1 preceding and current row) - 1 as ret_1d,
        close / lagInFrame(close, 5) over (order by date rows between 5 preceding and current row) - 1 as ret_5d,
        close / lagInFrame(close, 20) over (order by date rows between 20 preceding and current row) - 1 as ret_20d,
        close / lagInFrame(close, 60) over (order by date rows between 60 preceding and current row) - 1 as ret_60d
    from topix
),

final as (
    select
        date,
        open,
        high,
        low,
        close,
        if(rn >= 1, ret_1d, null) as ret_1d,
        if(rn >= 5, ret_5d, null) as ret_5d,
        if(rn >= 20, ret_20d, null) as ret_20d,
        if(rn >= 60, ret_60d, null) as ret_60d,
        if(
            rn >= 20,
            stddevSamp(ret_1d) over (order by date rows between 19 preceding and current row) * sqrt(252),
            null
        ) as vol_20d
    from returns
)

select * from final
