{#-
    minus_di(sm_minus_dm, sm_tr, n=14, order_by='rn')

    TA-Lib MINUS_DI(high, low, close, n) = 100 * (-DM_n / TR_n), 0 where TR_n = 0. Lookback n: first
    non-NULL rn = n. Row-wise over the dmi_smooth columns of the previous CTE (see dmi_smooth, adx).
-#}
{% macro minus_di(sm_minus_dm, sm_tr, n=14, order_by='rn') -%}
    if({{ order_by }} >= {{ n }}, if({{ sm_tr }} > 0, 100 * ({{ sm_minus_dm }} / {{ sm_tr }}), 0), null)
{%- endmacro %}
