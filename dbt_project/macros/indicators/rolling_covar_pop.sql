{#-
    rolling_covar_pop(x, y, n, stable=false, partition_by='code', order_by='rn')

    Population covariance of x and y over the last n rows; NULL unless both are non-NULL on all n rows
    (first non-NULL rn = n for two lagged returns). stable=false: (sum xy - sum x * sum y / n) / n from
    window sums (see rolling_moments; fine for returns, 3x cheaper than covarPop); stable=true:
    covarPopStable (Welford) for level series.
-#}
{% macro rolling_covar_pop(x, y, n, stable=false, partition_by='code', order_by='rn') -%}
    {%- set m = rolling_moments(x, y, n, partition_by, order_by) -%}
    if(
        {{ m.count }} = {{ n }},
        {%- if stable %}
        covarPopStable(toFloat64({{ x }}), toFloat64({{ y }})) {{ indicator_window(n, partition_by, order_by) }},
        {%- else %}
        ({{ m.sxy }} - {{ m.sx }} * {{ m.sy }} / {{ n }}) / {{ n }},
        {%- endif %}
        null
    )
{%- endmacro %}
