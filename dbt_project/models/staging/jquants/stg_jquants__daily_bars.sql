{{
    config(
        materialized='table',
        engine='MergeTree()',
        order_by='(code, date)',
        partition_by='toYear(date)',
    )
}}

-- A table, unlike the other staging models: the largest source (one row per code and day), de-duplicated by a
-- sort of every landed row. As a view, that sort ran again for each model and data test reading it.

with

latest as (
    {{ jquants_latest('equities_bars_daily', ['Code', 'Date']) }}
),

renamed as (
    select
        Code as code,
        Date as date,
        O as open,
        H as high,
        L as low,
        C as close,
        Vo as volume,
        Va as turnover_value,
        AdjFactor as adj_factor,
        UL as is_upper_limit,
        LL as is_lower_limit,
        AdjC as jquants_adj_close,
        _loaded_at as loaded_at
    from latest
)

select * from renamed
