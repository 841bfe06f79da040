{{
    config(
        engine='MergeTree()',
        order_by='(code, date)',
        partition_by='toYear(date)',
    )
}}

with

adjusted as (
    select * from {{ ref('int_daily_bars_adjusted') }}
),

final as (
    select
        code,
        date,
        open,
        high,
        low,
        close,
        volume,
        turnover_value,
        adj_factor,
        adj_open,
        adj_high,
        adj_low,
        adj_close,
        adj_volume
    from adjusted
)

select * from final
