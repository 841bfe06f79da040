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
        bars.code,
        bars.date,
        toUInt32(row_number() over (partition by bars.code order by bars.date) - 1) as rn,
        bars.factor_to_date,
        -- a traded session has all four prices; non-nullable types let array-based window macros run.
        -- Qualified names: a bare `close` would resolve to the alias `close` below (already divided by the factor)
        assumeNotNull(coalesce(bars.open, bars.close)) / bars.factor_to_date as open,
        assumeNotNull(coalesce(bars.high, bars.close)) / bars.factor_to_date as high,
        assumeNotNull(coalesce(bars.low, bars.close)) / bars.factor_to_date as low,
        assumeNotNull(bars.close) / bars.factor_to_date as close,
        coalesce(bars.volume, 0) * bars.factor_to_date as volume,
        coalesce(bars.turnover_value, 0) as turnover_value
    from bars
)

select * from final
