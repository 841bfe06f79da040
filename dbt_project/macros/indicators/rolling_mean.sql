{#-
    rolling_mean(expr, n, partition_by='code', order_by='rn')

    Mean of the last n values; NULL unless all n values of the frame are non-NULL (for lagged inputs such
    as ret_1d, first non-NULL rn = n; over raw prices use sma, which is TA-Lib's). E.g. sharpe_20d =
    `{{ rolling_mean('ret_1d', 20) }} / {{ rolling_stddev_samp('ret_1d', 20) }} * sqrt(252)`
    (the sums are shared: ClickHouse computes each distinct window expression once).
-#}
{% macro rolling_mean(expr, n, partition_by='code', order_by='rn') -%}
    {%- set m = rolling_moments(expr, none, n, partition_by, order_by) -%}
    if({{ m.count }} = {{ n }}, {{ m.sx }} / {{ n }}, null)
{%- endmacro %}
