{#-
    rolling_stddev_pop(expr, n, partition_by='code', order_by='rn')

    Population standard deviation (ddof 0) of the last n values, as TA-Lib STDDEV(expr, n, 1) (0 where the
    variance is below 1e-14); NULL unless all n values of the frame are non-NULL. Welford (varPopStable).
-#}
{% macro rolling_stddev_pop(expr, n, partition_by='code', order_by='rn') -%}
    {%- set variance = 'varPopStable(toFloat64(' ~ expr ~ ')) ' ~ indicator_window(n, partition_by, order_by) -%}
    if(
        count({{ expr }}) {{ indicator_window(n, partition_by, order_by) }} = {{ n }},
        if({{ variance }} < 1e-14, 0, sqrt({{ variance }})),
        null
    )
{%- endmacro %}
