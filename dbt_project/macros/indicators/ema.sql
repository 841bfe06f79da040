{#-
    ema(expr, n, partition_by='code', order_by='rn')

    TA-Lib EMA(expr, n): alpha = 2 / (n + 1), seeded with the SMA of the first n values.
    Lookback n-1: first non-NULL rn = n - 1 (all NULL for a series shorter than n).
    One line: `{{ ema('close', 20) }} as ema_20`. Mechanics in ema_seeded.
-#}
{% macro ema(expr, n, partition_by='code', order_by='rn') -%}
    {{ ema_seeded(expr, n, 0, none, partition_by, order_by) }}
{%- endmacro %}
