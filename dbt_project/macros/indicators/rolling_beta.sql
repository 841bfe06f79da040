{#-
    rolling_beta(y, x, n, stable=false, partition_by='code', order_by='rn')

    Regression slope of y on x over the last n rows: cov(y, x) / var(x), population moments; NULL unless
    both are non-NULL on all n rows, and NULL where var(x) = 0. stable=false: from window sums (see
    rolling_moments; fine for returns, cheapest); stable=true: covarPopStable / varPopStable (Welford).
    One line: `{{ rolling_beta('ret_1d', 'topix_ret_1d', 60) }} as beta_60d`.
-#}
{% macro rolling_beta(y, x, n, stable=false, partition_by='code', order_by='rn') -%}
    {%- set m = rolling_moments(x, y, n, partition_by, order_by) -%}
    {%- if stable -%}
        {%- set w = indicator_window(n, partition_by, order_by) -%}
        {%- set cov = 'covarPopStable(toFloat64(' ~ y ~ '), toFloat64(' ~ x ~ ')) ' ~ w -%}
        {%- set var_x = 'varPopStable(toFloat64(' ~ x ~ ')) ' ~ w -%}
    {%- else -%}
        {%- set cov = '(' ~ m.sxy ~ ' - ' ~ m.sx ~ ' * ' ~ m.sy ~ ' / ' ~ n ~ ')' -%}
        {%- set var_x = '(' ~ m.sxx ~ ' - ' ~ m.sx ~ ' * ' ~ m.sx ~ ' / ' ~ n ~ ')' -%}
    {%- endif -%}
    if({{ m.count }} = {{ n }} and {{ var_x }} > 0, {{ cov }} / {{ var_x }}, null)
{%- endmacro %}
