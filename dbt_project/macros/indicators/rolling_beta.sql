{#-
    rolling_beta(y, x, n, partition_by='code', order_by='rn')

    Regression slope of y on x over the last n rows: cov(y, x) / var(x), population moments; NULL unless
    both are non-NULL on all n rows, and NULL where var(x) = 0.
    One line: `{{ rolling_beta('ret_1d', 'topix_ret_1d', 60) }} as beta_60d`.
-#}
{% macro rolling_beta(y, x, n, partition_by='code', order_by='rn') -%}
    {%- set cov = 'covarPopStable(toFloat64(' ~ y ~ '), toFloat64(' ~ x ~ ')) ' ~ indicator_window(n, partition_by, order_by) -%}
    {%- set var_x = 'varPopStable(toFloat64(' ~ x ~ ')) ' ~ indicator_window(n, partition_by, order_by) -%}
    if(
        countIf({{ y }} is not null and {{ x }} is not null) {{ indicator_window(n, partition_by, order_by) }} = {{ n }}
        and {{ var_x }} > 0,
        {{ cov }} / {{ var_x }},
        null
    )
{%- endmacro %}
