{#-
    macd_line(expr, fast=12, slow=26, partition_by='code', order_by='rn')

    Stage 1 of TA-Lib MACD(expr, fast, slow, signal): EMA_fast - EMA_slow as TA-Lib computes it INSIDE
    MACD, which is not EMA(fast) - EMA(slow): both EMAs start at the slow EMA's first valid row slow - 1,
    so the fast EMA is seeded with the SMA of rn slow-fast .. slow-1 (rn 14..25 for 12/26), not of rn
    0..fast-1. Valid (non-NULL) from rn = slow - 1 = 25; TA-Lib publishes it only from
    rn = slow + signal - 2 = 33, see macd. Requires fast < slow.

    Chain (MACD 12/26/9):
        with lines as (select *, {{ macd_line('close', 12, 26) }} as macd_line from prices),
        signals as (
            select *,
                {{ macd('macd_line', 26, 9) }} as macd,
                {{ macd_signal('macd_line', 26, 9) }} as macd_signal,
                {{ macd_hist('macd_line', 26, 9) }} as macd_hist
            from lines
        )
-#}
{% macro macd_line(expr, fast=12, slow=26, partition_by='code', order_by='rn') -%}
    ({{ ema_seeded(expr, fast, slow - fast, none, partition_by, order_by) }})
    - ({{ ema_seeded(expr, slow, 0, none, partition_by, order_by) }})
{%- endmacro %}
