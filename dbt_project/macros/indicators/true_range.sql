{#-
    true_range(high, low, prev_close)

    TA-Lib TRANGE: greatest(high - low, |high - prev_close|, |low - prev_close|). Row-wise expression over
    a CTE that holds prev_close = {{ lag('close') }}; NULL at rn 0 (TA-Lib lookback 1). Input of atr,
    natr and (through dmi_smooth) PLUS_DI / MINUS_DI / ADX. The explicit NULL test matters: ClickHouse's
    greatest() skips NULL arguments, so without it rn 0 would get high - low.
-#}
{% macro true_range(high, low, prev_close) -%}
    if(
        {{ prev_close }} is null,
        null,
        greatest({{ high }} - {{ low }}, abs({{ high }} - {{ prev_close }}), abs({{ low }} - {{ prev_close }}))
    )
{%- endmacro %}
