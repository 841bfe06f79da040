{#-
    obv(close, prev_close, volume, partition_by='code', order_by='rn')

    TA-Lib OBV(close, volume): obv(0) = volume(0); then + volume on an up close, - volume on a down close,
    unchanged on an equal close. Lookback 0: non-NULL from rn = 0.
    Chain: prev_close = {{ lag('close') }} in CTE 1; `{{ obv('close', 'prev_close', 'volume') }}` in CTE 2.
-#}
{% macro obv(close, prev_close, volume, partition_by='code', order_by='rn') -%}
    sum(
        multiIf(
            {{ prev_close }} is null, {{ volume }},
            {{ close }} > {{ prev_close }}, {{ volume }},
            {{ close }} < {{ prev_close }}, -{{ volume }},
            0
        )
    ) {{ indicator_window(none, partition_by, order_by) }}
{%- endmacro %}
