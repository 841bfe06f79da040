{#-
    macd_signal(macd_line, slow=26, signal=9, partition_by='code', order_by='rn')

    TA-Lib MACD's signal output: EMA(signal) of the MACD line, seeded with the mean of the line over rn
    slow-1 .. slow+signal-2. First non-NULL rn = slow + signal - 2 (33 for 12/26/9). `macd_line` is the
    column computed by macd_line in the previous CTE (see macd_line for the chain).
-#}
{% macro macd_signal(macd_line, slow=26, signal=9, partition_by='code', order_by='rn') -%}
    {{ ema_seeded(macd_line, signal, slow - 1, none, partition_by, order_by) }}
{%- endmacro %}
