{#-
    mom(expr, n=10, partition_by='code', order_by='rn')

    TA-Lib MOM(expr, n) = expr - expr n sessions ago. Lookback n: first non-NULL rn = n.
    One line: `{{ mom('close', 10) }} as mom_10`.
-#}
{% macro mom(expr, n=10, partition_by='code', order_by='rn') -%}
    {{ expr }} - {{ lag(expr, n, partition_by, order_by) }}
{%- endmacro %}
