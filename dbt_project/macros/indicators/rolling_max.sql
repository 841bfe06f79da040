{#-
    rolling_max(expr, n, first_rn=0, partition_by='code', order_by='rn')

    TA-Lib MAX(expr, n): largest of the last n values. First non-NULL rn = first_rn + n - 1 (first_rn:
    first row where `expr` is valid). One line: `{{ rolling_max('high', 20) }} as high_20`.
-#}
{% macro rolling_max(expr, n, first_rn=0, partition_by='code', order_by='rn') -%}
    if({{ order_by }} >= {{ first_rn + n - 1 }}, max({{ expr }}) {{ indicator_window(n, partition_by, order_by) }}, null)
{%- endmacro %}
