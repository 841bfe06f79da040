{#-
    rolling_covar_pop(x, y, n, partition_by='code', order_by='rn')

    Population covariance of x and y over the last n rows; NULL unless both are non-NULL on all n rows.
    Welford (covarPopStable).
-#}
{% macro rolling_covar_pop(x, y, n, partition_by='code', order_by='rn') -%}
    if(
        countIf({{ x }} is not null and {{ y }} is not null) {{ indicator_window(n, partition_by, order_by) }} = {{ n }},
        covarPopStable(toFloat64({{ x }}), toFloat64({{ y }})) {{ indicator_window(n, partition_by, order_by) }},
        null
    )
{%- endmacro %}
