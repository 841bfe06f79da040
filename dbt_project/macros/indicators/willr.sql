{#-
    willr(high, low, close, n=14, partition_by='code', order_by='rn')

    TA-Lib WILLR(high, low, close, n) = ((HH - close) / (HH - LL)) * -100 over n sessions, clamped to
    [-100, 0]; 0 on a flat window (range within 1e-14 of |HH| + |LL|). Lookback n-1: first non-NULL
    rn = n - 1. One stage: `{{ willr('high', 'low', 'close', 14) }} as willr_14`.
-#}
{% macro willr(high, low, close, n=14, partition_by='code', order_by='rn') -%}
    {%- set hh = 'max(' ~ high ~ ') ' ~ indicator_window(n, partition_by, order_by) -%}
    {%- set ll = 'min(' ~ low ~ ') ' ~ indicator_window(n, partition_by, order_by) -%}
    if(
        {{ order_by }} >= {{ n - 1 }},
        if(
            abs({{ hh }} - {{ ll }}) <= 1e-14 * (abs({{ hh }}) + abs({{ ll }})),
            0,
            least(greatest((({{ hh }} - {{ close }}) / ({{ hh }} - {{ ll }})) * -100, -100), 0)
        ),
        null
    )
{%- endmacro %}
