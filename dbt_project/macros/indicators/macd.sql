{#-
    macd(macd_line, slow=26, signal=9, order_by='rn')

    TA-Lib MACD's macd output: the macd_line column of the previous CTE, NULL before
    rn = slow + signal - 2 (33 for 12/26/9), where TA-Lib's MACD starts all three outputs.
    Row-wise; see macd_line for the chain.
-#}
{% macro macd(macd_line, slow=26, signal=9, order_by='rn') -%}
    {{ lookback_mask(macd_line, slow + signal - 2, order_by) }}
{%- endmacro %}
