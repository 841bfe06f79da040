{#-
    wilder_smooth(expr, n, first_rn=1, partition_by='code', order_by='rn')

    Wilder's smoothing as TA-Lib's RSI and ATR run it: the mean of the n values at rn in
    [first_rn, first_rn + n - 1], then A(i) = (A(i-1) * (n - 1) + x(i)) / n. first_rn defaults to 1
    because the inputs (price change, true range) need the previous close. First non-NULL
    rn = first_rn + n - 1 (14 for RSI(14) and ATR(14)). Must read columns of an earlier CTE that already
    holds the lagged close (a window function cannot take another as argument).
-#}
{% macro wilder_smooth(expr, n, first_rn=1, partition_by='code', order_by='rn') -%}
    {{ ema_seeded(expr, n, first_rn, '(1 / ' ~ n ~ ')', partition_by, order_by) }}
{%- endmacro %}
