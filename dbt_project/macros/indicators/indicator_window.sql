{#-
    indicator_window(n=none, partition_by='code', order_by='rn')

    The `over (...)` clause every indicator macro uses: one series per `partition_by`, in session order
    `order_by` (the 0-based index of the traded session, computed in an inner query because a window
    function cannot take another one as argument).
    - n given: the trailing frame of the last n rows, `rows between n-1 preceding and current row`.
    - n none: the running frame from the first row, `rows between unbounded preceding and current row`.
    A frame of n rows is full from rn = n-1 on; the callers return NULL before that (TA-Lib's NaN).
-#}
{% macro indicator_window(n=none, partition_by='code', order_by='rn') -%}
    over (
        partition by {{ partition_by }}
        order by {{ order_by }}
        rows between {{ 'unbounded' if n is none else (n - 1) }} preceding and current row
    )
{%- endmacro %}
