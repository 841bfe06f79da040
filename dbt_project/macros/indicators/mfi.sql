{#-
    mfi(high, low, close, volume, prev_high, prev_low, prev_close, n=14, partition_by='code', order_by='rn')

    TA-Lib MFI(high, low, close, volume, n) = 100 * positive flow / (positive + negative flow) over the
    last n sessions; money flow = tp * volume, tp = (high + low + close) / 3, positive where tp rose,
    negative where it fell, none where it moved by at most 1e-14 of |tp| + |previous tp| (TA-Lib's scaled
    test); 0 where the window holds no flow. Lookback n: first non-NULL rn = n.
    Chain: prev_high / prev_low / prev_close = {{ lag(...) }} in CTE 1, this macro in CTE 2:
        `{{ mfi('high', 'low', 'close', 'volume', 'prev_high', 'prev_low', 'prev_close', 14) }} as mfi_14`
-#}
{% macro mfi(high, low, close, volume, prev_high, prev_low, prev_close, n=14, partition_by='code', order_by='rn') -%}
    {%- set tp = '((' ~ high ~ ' + ' ~ low ~ ' + ' ~ close ~ ') / 3)' -%}
    {%- set prev_tp = '((' ~ prev_high ~ ' + ' ~ prev_low ~ ' + ' ~ prev_close ~ ') / 3)' -%}
    {%- set flow = 'if(abs(' ~ tp ~ ' - ' ~ prev_tp ~ ') <= 1e-14 * (abs(' ~ tp ~ ') + abs(' ~ prev_tp ~ ')), 0, '
        ~ tp ~ ' * ' ~ volume ~ ')' -%}
    {%- set pos = '(sum(if(' ~ tp ~ ' - ' ~ prev_tp ~ ' < 0, 0, ' ~ flow ~ ')) '
        ~ indicator_window(n, partition_by, order_by) ~ ')' -%}
    {%- set neg = '(sum(if(' ~ tp ~ ' - ' ~ prev_tp ~ ' < 0, ' ~ flow ~ ', 0)) '
        ~ indicator_window(n, partition_by, order_by) ~ ')' -%}
    if(
        {{ order_by }} >= {{ n }},
        if({{ pos }} + {{ neg }} <= 0, 0, 100 * (least(greatest({{ pos }}, 0), {{ pos }} + {{ neg }}) / ({{ pos }} + {{ neg }}))),
        null
    )
{%- endmacro %}
