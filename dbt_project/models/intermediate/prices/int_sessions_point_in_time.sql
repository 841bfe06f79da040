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
        open / factor_to_date as open,
        high / factor_to_date as high,
        low / factor_to_date as low,
        close / factor_to_date as close,
        volume * factor_to_date as volume,
        turnover_value
    from bars
)

select * from final
