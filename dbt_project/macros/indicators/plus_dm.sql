{#-
    plus_dm(high, low, prev_high, prev_low)

    Wilder's one-session +DM as TA-Lib computes it: up = high - prev_high, down = prev_low - low;
    +DM = up where up > 0 and up > down, else 0. Row-wise over a CTE holding prev_high / prev_low
    (= {{ lag('high') }}, {{ lag('low') }}); NULL at rn 0. Input of dmi_smooth.
-#}
{% macro plus_dm(high, low, prev_high, prev_low) -%}
    if(
        ({{ high }} - {{ prev_high }}) > 0 and ({{ high }} - {{ prev_high }}) > ({{ prev_low }} - {{ low }}),
        {{ high }} - {{ prev_high }},
        0
    )
{%- endmacro %}
