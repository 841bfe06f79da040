{#-
    natr(high, low, close, prev_close, n=14, partition_by='code', order_by='rn')

    TA-Lib NATR(high, low, close, n) = (ATR / close) * 100 (0 where close = 0). Lookback n: first non-NULL
    rn = n. Same stage as atr (CTE 2, over prev_close from CTE 1).
-#}
{% macro natr(high, low, close, prev_close, n=14, partition_by='code', order_by='rn') -%}
    if(
        {{ order_by }} >= {{ n }},
        if({{ close }} != 0, (({{ atr(high, low, prev_close, n, partition_by, order_by) }}) / {{ close }}) * 100, 0),
        null
    )
{%- endmacro %}
