{#-
    atr(high, low, prev_close, n=14, partition_by='code', order_by='rn')

    TA-Lib ATR(high, low, close, n): Wilder smoothing of the true range, seeded with the mean TR of rn 1..n.
    Lookback n: first non-NULL rn = n.
    Chain: prev_close = {{ lag('close') }} in CTE 1; `{{ atr('high', 'low', 'prev_close', 14) }}` in CTE 2.
-#}
{% macro atr(high, low, prev_close, n=14, partition_by='code', order_by='rn') -%}
    {{ wilder_smooth(true_range(high, low, prev_close), n, 1, partition_by, order_by) }}
{%- endmacro %}
