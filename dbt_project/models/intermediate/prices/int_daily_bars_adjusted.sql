{{
    config(
        engine='MergeTree()',
        order_by='(code, date)',
        partition_by='toYear(date)',
    )
}}

-- Raw bars on trading days with the cumulative AdjFactor products both ways, computed here from raw prices
-- and factors (never from J-Quants AdjC, which J-Quants rewrites after every split):
--   factor_after(t)    = prod_{s > t} adj_factor(s)  -> back-adjusted to the latest landed data
--   factor_to_date(t)  = prod_{s <= t} adj_factor(s) -> depends only on rows dated <= t (point in time)
-- Factors other than 1 are rare (ex-dates only), so each window collects just those and multiplies them:
-- exact (no exp/log rounding) and cheap. arrayProduct of an empty array is 0, hence the appended 1.

with

bars as (
    select * from {{ ref('stg_jquants__daily_bars') }}
),

trading_days as (
    select date from {{ ref('dim_trading_calendar') }}
    where is_trading_day = 1
),

on_trading_days as (
    select bars.*
    from bars
    where bars.date in (select trading_days.date from trading_days)
),

accumulated as (
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
        arrayProduct(arrayPushBack(
            groupArrayIf(adj_factor, adj_factor != 1) over (
                partition by code order by date rows between 1 following and unbounded following
            ),
            1.0
        )) as factor_after,
        arrayProduct(arrayPushBack(
            groupArrayIf(adj_factor, adj_factor != 1) over (
                partition by code order by date rows between unbounded preceding and current row
            ),
            1.0
        )) as factor_to_date
    from on_trading_days
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
        factor_after,
        factor_to_date,
        open * factor_after as adj_open,
        high * factor_after as adj_high,
        low * factor_after as adj_low,
        close * factor_after as adj_close,
        volume / factor_after as adj_volume
    from accumulated
)

select * from final
