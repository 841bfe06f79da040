{#-
    lag(expr, k=1, partition_by='code', order_by='rn')

    Value of `expr` k sessions earlier in the same series; NULL for the first k rows (first non-NULL rn = k).
    One stage: the lagged columns (prev_close, prev_high, prev_low) that TR, +DM/-DM, RSI, MFI and OBV need
    are computed in the first CTE, because window functions cannot nest.
    The frame is the running one (unbounded preceding), not `k preceding`: every window function sharing a
    frame runs in one ClickHouse window step, and each extra step costs ~0.3 s of CPU per 10M rows, so all
    lags share the step of the EMAs and OBV.
-#}
{% macro lag(expr, k=1, partition_by='code', order_by='rn') -%}
    lagInFrame(toNullable(toFloat64({{ expr }})), {{ k }}) {{ indicator_window(none, partition_by, order_by) }}
{%- endmacro %}
