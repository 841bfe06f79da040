{{
    config(
        engine='MergeTree()',
        order_by='(code, date)',
        partition_by='toYear(date)',
    )
}}

-- The stock's traded sessions (rows with a close) in point-in-time units. With C(t) = factor_to_date(t), the
-- series adjusted as of t is p_t(u) = close(u) x C(t) / C(u). So every price here is divided by C(u) (and
-- volume multiplied by it): the result depends only on rows dated <= u, never on a later split, and a level
-- feature computed on it becomes the feature in units of date t once multiplied by C(t) (volumes: divided).

with

bars as (
    select * from {{ ref('int_daily_bars_adjusted') }}
    where close is not null
),

final as (
    select
        code,
        date,
        toUInt32(row_number() over (partition by code order by date) - 1) as rn,
        factor_to_date,
        -- a traded session has all four prices; non-nullable types let array-based window macros run
        assumeNotNull(coalesce(open, close)) / factor_to_date as open,
        assumeNotNull(coalesce(high, close)) / factor_to_date as high,
        assumeNotNull(coalesce(low, close)) / factor_to_date as low,
        assumeNotNull(close) / factor_to_date as close,
        coalesce(volume, 0) * factor_to_date as volume,
        coalesce(turnover_value, 0) as turnover_value
    from bars
)

select * from final
