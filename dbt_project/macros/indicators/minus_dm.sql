{#-
    minus_dm(high, low, prev_high, prev_low)

    Wilder's one-session -DM as TA-Lib computes it: up = high - prev_high, down = prev_low - low;
    -DM = down where down > 0 and down > up, else 0. Row-wise over a CTE holding prev_high / prev_low;
    NULL at rn 0. Input of dmi_smooth.
-#}
{% macro minus_dm(high, low, prev_high, prev_low) -%}
    if(
        ({{ prev_low }} - {{ low }}) > 0 and ({{ high }} - {{ prev_high }}) < ({{ prev_low }} - {{ low }}),
        {{ prev_low }} - {{ low }},
        0
    )
{%- endmacro %}
