{#-
    donchian(high, low, n=20, band='upper', partition_by='code', order_by='rn')

    Donchian channel over n sessions: 'upper' = highest high (TA-Lib MAX(high, n)), 'lower' = lowest low
    (TA-Lib MIN(low, n)), 'middle' = (upper + lower) / 2. First non-NULL rn = n - 1.
    One line per band: `{{ donchian('high', 'low', 20, 'upper') }} as donchian_upper_20`.
-#}
{% macro donchian(high, low, n=20, band='upper', partition_by='code', order_by='rn') -%}
    {%- if band == 'upper' -%}
        {{ rolling_max(high, n, 0, partition_by, order_by) }}
    {%- elif band == 'lower' -%}
        {{ rolling_min(low, n, 0, partition_by, order_by) }}
    {%- elif band == 'middle' -%}
        ({{ rolling_max(high, n, 0, partition_by, order_by) }} + {{ rolling_min(low, n, 0, partition_by, order_by) }}) / 2
    {%- else -%}
        {{ exceptions.raise_compiler_error("donchian: band must be 'upper', 'middle' or 'lower', got " ~ band) }}
    {%- endif -%}
{%- endmacro %}
