{#-
    macd_hist(macd_line, slow=26, signal=9, partition_by='code', order_by='rn')

    TA-Lib MACD's hist output: macd - signal. First non-NULL rn = slow + signal - 2 (33 for 12/26/9).
    Same CTE as macd_signal (the signal window expression is repeated; ClickHouse computes it once).
-#}
{% macro macd_hist(macd_line, slow=26, signal=9, partition_by='code', order_by='rn') -%}
    {{ macd_line }} - ({{ macd_signal(macd_line, slow, signal, partition_by, order_by) }})
{%- endmacro %}
