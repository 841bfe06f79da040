{#-
    rsi(close, prev_close, n=14, partition_by='code', order_by='rn')

    TA-Lib RSI(close, n): 100 * G / (G + L), G and L the Wilder-smoothed gains and losses of the
    session-to-session change (seeded with their mean over rn 1..n); 0 where G + L = 0 (a series that has
    not moved). Lookback n: first non-NULL rn = n (2 for RSI(2), 14 for RSI(14)).

    Chain: `prev_close` = {{ lag('close') }} in an earlier CTE; this macro in the next one:
        with lagged as (select *, {{ lag('close') }} as prev_close from prices),
        smoothed as (select *, {{ rsi('close', 'prev_close', 14) }} as rsi_14 from lagged)
-#}
{% macro rsi(close, prev_close, n=14, partition_by='code', order_by='rn') -%}
    {%- set chg = '(' ~ close ~ ' - ' ~ prev_close ~ ')' -%}
    {%- set gain = wilder_smooth('if(' ~ chg ~ ' > 0, ' ~ chg ~ ', 0)', n, 1, partition_by, order_by) -%}
    {%- set loss = wilder_smooth('if(' ~ chg ~ ' < 0, -' ~ chg ~ ', 0)', n, 1, partition_by, order_by) -%}
    if(
        {{ order_by }} >= {{ n }},
        if(({{ gain }}) + ({{ loss }}) > 0, 100 * (({{ gain }}) / (({{ gain }}) + ({{ loss }}))), 0),
        null
    )
{%- endmacro %}
