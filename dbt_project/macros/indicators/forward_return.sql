{#-
    forward_return(expr, n, partition_by='code', order_by='rn')
    A label, never a feature: expr(t+n) / expr(t) - 1, NULL until the n-th next session is landed.
    One line: `{{ forward_return('close', 5) }} as target_ret_5d`.
-#}
{% macro forward_return(expr, n, partition_by='code', order_by='rn') -%}
    if(
        count() over (partition by {{ partition_by }} order by {{ order_by }} rows between current row and {{ n }} following)
        = {{ n + 1 }},
        leadInFrame({{ expr }}, {{ n }}) over (
            partition by {{ partition_by }} order by {{ order_by }} rows between current row and {{ n }} following
        ) / {{ expr }} - 1,
        null
    )
{%- endmacro %}
