{#-
    rolling_min(expr, n, first_rn=0, partition_by='code', order_by='rn')

    TA-Lib MIN(expr, n): smallest of the last n values. First non-NULL rn = first_rn + n - 1 (first_rn:
    first row where `expr` is valid). One line: `{{ rolling_min('low', 20) }} as low_20`.
-#}
{% macro rolling_min(expr, n, first_rn=0, partition_by='code', order_by='rn') -%}
    if({{ order_by }} >= {{ first_rn + n - 1 }}, min({{ expr }}) {{ indicator_window(n, partition_by, order_by) }}, null)
{%- endmacro %}
