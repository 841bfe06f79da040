{#-
    rolling_stddev_samp(expr, n, partition_by='code', order_by='rn')

    Sample standard deviation (ddof 1) of the last n values (numpy std(ddof=1)); NULL unless all n values
    of the frame are non-NULL, so it can run over a lagged column such as ret_1d (NULL at rn 0, first
    non-NULL rn = n). Welford (stddevSampStable). One line:
    `{{ rolling_stddev_samp('ret_1d', 20) }} * sqrt(252) as vol_20d` (in the CTE after the one defining ret_1d).
-#}
{% macro rolling_stddev_samp(expr, n, partition_by='code', order_by='rn') -%}
    if(
        count({{ expr }}) {{ indicator_window(n, partition_by, order_by) }} = {{ n }},
        stddevSampStable(toFloat64({{ expr }})) {{ indicator_window(n, partition_by, order_by) }},
        null
    )
{%- endmacro %}
