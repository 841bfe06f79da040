{#-
    roc(expr, n=10, partition_by='code', order_by='rn')

    TA-Lib ROC(expr, n) = ((expr / expr n sessions ago) - 1) * 100, 0 where that value is 0.
    Lookback n: first non-NULL rn = n. One line: `{{ roc('close', 10) }} as roc_10`.
-#}
{% macro roc(expr, n=10, partition_by='code', order_by='rn') -%}
    {%- set prev = lag(expr, n, partition_by, order_by) -%}
    if({{ order_by }} >= {{ n }}, if({{ prev }} != 0, (({{ expr }} / {{ prev }}) - 1) * 100, 0), null)
{%- endmacro %}
