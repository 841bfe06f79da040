{#-
    rolling_corr(x, y, n, stable=false, partition_by='code', order_by='rn')

    Pearson correlation of x and y over the last n rows; NULL unless both are non-NULL on all n rows, and
    NULL where either side has zero variance. stable=false: from window sums (see rolling_moments; fine for
    returns, cheapest); stable=true: corrStable (Welford).
    One line: `{{ rolling_corr('ret_1d', 'topix_ret_1d', 60) }} as corr_topix_60d`.
-#}
{% macro rolling_corr(x, y, n, stable=false, partition_by='code', order_by='rn') -%}
    {%- set m = rolling_moments(x, y, n, partition_by, order_by) -%}
    {%- if stable -%}
        {%- set corr = 'corrStable(toFloat64(' ~ x ~ '), toFloat64(' ~ y ~ ')) ' ~ indicator_window(n, partition_by, order_by) -%}
    {%- else -%}
        {%- set corr = '((' ~ m.sxy ~ ' - ' ~ m.sx ~ ' * ' ~ m.sy ~ ' / ' ~ n ~ ') / sqrt(('
            ~ m.sxx ~ ' - ' ~ m.sx ~ ' * ' ~ m.sx ~ ' / ' ~ n ~ ') * ('
            ~ m.syy ~ ' - ' ~ m.sy ~ ' * ' ~ m.sy ~ ' / ' ~ n ~ ')))' -%}
    {%- endif -%}
    if({{ m.count }} = {{ n }} and isFinite({{ corr }}), {{ corr }}, null)
{%- endmacro %}
