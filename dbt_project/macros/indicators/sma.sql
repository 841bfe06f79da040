{#-
    sma(expr, n, first_rn=0, partition_by='code', order_by='rn')

    TA-Lib SMA(expr, n): mean of the last n values. Lookback n-1: first non-NULL rn = first_rn + n - 1,
    where first_rn is the first row at which `expr` itself is valid (0 for a raw column; 13 for STOCH
    fast %K(14), and so on), so the macro also serves as a stage over an earlier stage's output.
    One line: `{{ sma('close', 20) }} as sma_20`.
-#}
{% macro sma(expr, n, first_rn=0, partition_by='code', order_by='rn') -%}
    if(
        {{ order_by }} >= {{ first_rn + n - 1 }},
        sum(toFloat64({{ expr }})) {{ indicator_window(n, partition_by, order_by) }} / {{ n }},
        null
    )
{%- endmacro %}
