-- Fails with every ex-date where the adjusted close jumps by more than 40% from the previous session while the
-- raw close moved by roughly the split ratio: the adjustment was not applied (or applied twice).
with

sessions as (
    select
        code,
        date,
        adj_factor,
        close,
        adj_close,
        lagInFrame(adj_close) over (partition by code order by date rows between 1 preceding and current row) as prev_adj_close,
        row_number() over (partition by code order by date) as rn
    from {{ ref('fct_daily_prices_adjusted') }}
    where close is not null
)

select *
from sessions
where
    rn > 1
    and adj_factor != 1
    and abs(adj_close / prev_adj_close - 1) > 0.4
