{#-
    rolling_stddev_pop(expr, n, stable=true, partition_by='code', order_by='rn')

    Population standard deviation (ddof 0) of the last n values, as TA-Lib STDDEV(expr, n, 1): 0 where the
    variance is below 1e-14. NULL unless all n values of the frame are non-NULL (first non-NULL rn = n - 1
    for a raw column). stable=true (default; Welford, varPopStable) matches TA-Lib 0.8's cancellation-free
    variance on price levels; stable=false (window sums, see rolling_moments) is cheaper and fine for returns.
-#}
{% macro rolling_stddev_pop(expr, n, stable=true, partition_by='code', order_by='rn') -%}
    {%- set m = rolling_moments(expr, none, n, partition_by, order_by) -%}
    {%- if stable -%}
        {%- set variance = 'varPopStable(toFloat64(' ~ expr ~ ')) ' ~ indicator_window(n, partition_by, order_by) -%}
    {%- else -%}
        {%- set variance = '((' ~ m.sxx ~ ' - ' ~ m.sx ~ ' * ' ~ m.sx ~ ' / ' ~ n ~ ') / ' ~ n ~ ')' -%}
    {%- endif -%}
    if(
        {{ m.count }} = {{ n }},
        if({{ variance }} < 1e-14, 0, sqrt({{ variance }})),
        null
    )
{%- endmacro %}
