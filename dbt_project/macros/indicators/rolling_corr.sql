{#-
    rolling_corr(x, y, n, partition_by='code', order_by='rn')

    Pearson correlation of x and y over the last n rows (population moments; the n's cancel); NULL unless
    both are non-NULL on all n rows, and NULL where either side has zero variance.
    One line: `{{ rolling_corr('ret_1d', 'topix_ret_1d', 60) }} as corr_topix_60d`.
-#}
{% macro rolling_corr(x, y, n, partition_by='code', order_by='rn') -%}
    {%- set cov = 'covarPopStable(toFloat64(' ~ x ~ '), toFloat64(' ~ y ~ ')) ' ~ indicator_window(n, partition_by, order_by) -%}
    {%- set var_x = 'varPopStable(toFloat64(' ~ x ~ ')) ' ~ indicator_window(n, partition_by, order_by) -%}
    {%- set var_y = 'varPopStable(toFloat64(' ~ y ~ ')) ' ~ indicator_window(n, partition_by, order_by) -%}
    if(
        countIf({{ x }} is not null and {{ y }} is not null) {{ indicator_window(n, partition_by, order_by) }} = {{ n }}
        and {{ var_x }} > 0 and {{ var_y }} > 0,
        {{ cov }} / sqrt({{ var_x }} * {{ var_y }}),
        null
    )
{%- endmacro %}
