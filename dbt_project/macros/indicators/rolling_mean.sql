{#-
    rolling_mean(expr, n, partition_by='code', order_by='rn')

    Mean of the last n values; NULL unless all n values of the frame are non-NULL (for lagged inputs such
    as ret_1d; over raw prices use sma, which is TA-Lib's). E.g. sharpe_20d =
    `{{ rolling_mean('ret_1d', 20) }} / {{ rolling_stddev_samp('ret_1d', 20) }} * sqrt(252)`.
-#}
{% macro rolling_mean(expr, n, partition_by='code', order_by='rn') -%}
    if(
        count({{ expr }}) {{ indicator_window(n, partition_by, order_by) }} = {{ n }},
        sum(toFloat64({{ expr }})) {{ indicator_window(n, partition_by, order_by) }} / {{ n }},
        null
    )
{%- endmacro %}
