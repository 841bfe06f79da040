{#-
    cci(high, low, close, n=20, partition_by='code', order_by='rn')

    TA-Lib CCI(high, low, close, n) = (tp - mean(tp)) / (0.015 * mean |tp - mean(tp)|) over n sessions,
    tp = (high + low + close) / 3; 0 where either the deviation of today or the mean deviation is within
    1e-14 of |mean(tp)| (TA-Lib's flat-window test). Lookback n-1: first non-NULL rn = n - 1.
    One stage: the mean absolute deviation needs every tp of the frame against the frame's own mean, so it
    maps over groupArray(tp) of the frame (n values per row).
-#}
{% macro cci(high, low, close, n=20, partition_by='code', order_by='rn') -%}
    {%- set tp = '((' ~ high ~ ' + ' ~ low ~ ' + ' ~ close ~ ') / 3)' -%}
    {%- set mean = '(sum(' ~ tp ~ ') ' ~ indicator_window(n, partition_by, order_by) ~ ' / ' ~ n ~ ')' -%}
    {%- set mad = '(arraySum(arrayMap(v -> abs(v - ' ~ mean ~ '), groupArray(' ~ tp ~ ') '
        ~ indicator_window(n, partition_by, order_by) ~ ')) / ' ~ n ~ ')' -%}
    if(
        {{ order_by }} >= {{ n - 1 }},
        if(
            abs({{ tp }} - {{ mean }}) <= 1e-14 * abs({{ mean }}) or {{ mad }} <= 1e-14 * abs({{ mean }}),
            0,
            ({{ tp }} - {{ mean }}) / (0.015 * {{ mad }})
        ),
        null
    )
{%- endmacro %}
