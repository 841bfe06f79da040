{#-
    dmi_smooth(expr, n=14, partition_by='code', order_by='rn')

    The Wilder running sum TA-Lib keeps inside PLUS_DI / MINUS_DI / DX / ADX for +DM, -DM and TR:
    S(n-1) = sum of the values at rn 1..n-1, then S(i) = S(i-1) - S(i-1)/n + x(i). Returned divided by n
    (only ratios of these sums are used, and the scale keeps the recursion an EMA with alpha = 1/n and
    x(0) = 0). First non-NULL rn = n - 1; the DIs derived from it are published from rn = n.

    Stage 2 of the ADX chain (CTE 1 holds prev_high, prev_low, prev_close):
        sm_plus_dm  = {{ dmi_smooth(plus_dm('high', 'low', 'prev_high', 'prev_low'), 14) }}
        sm_minus_dm = {{ dmi_smooth(minus_dm('high', 'low', 'prev_high', 'prev_low'), 14) }}
        sm_tr       = {{ dmi_smooth(true_range('high', 'low', 'prev_close'), 14) }}
    then plus_di / minus_di / dx (row-wise) and adx (window) over those three columns in CTE 3.
-#}
{% macro dmi_smooth(expr, n=14, partition_by='code', order_by='rn') -%}
    {{ ema_seeded(expr, n, 0, '(1 / ' ~ n ~ ')', partition_by, order_by) }}
{%- endmacro %}
