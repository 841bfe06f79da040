{#-
    dx(sm_plus_dm, sm_minus_dm, sm_tr, n=14, order_by='rn')

    TA-Lib DX(high, low, close, n) = 100 * |-DI - +DI| / (-DI + +DI), 0 where TR_n = 0 or the DI sum is
    zero (|sum| < 1e-14). Lookback n: first non-NULL rn = n. Row-wise over the dmi_smooth columns; its
    unmasked form is what adx smooths.
-#}
{% macro dx(sm_plus_dm, sm_minus_dm, sm_tr, n=14, order_by='rn') -%}
    {{ lookback_mask(_dx_raw(sm_plus_dm, sm_minus_dm, sm_tr), n, order_by) }}
{%- endmacro %}

{#- DX without the lookback mask (garbage-free but meaningless before rn = n); used by adx. -#}
{% macro _dx_raw(sm_plus_dm, sm_minus_dm, sm_tr) -%}
    {%- set mdi = '(100 * (' ~ sm_minus_dm ~ ' / ' ~ sm_tr ~ '))' -%}
    {%- set pdi = '(100 * (' ~ sm_plus_dm ~ ' / ' ~ sm_tr ~ '))' -%}
    if(
        {{ sm_tr }} > 0 and abs({{ mdi }} + {{ pdi }}) >= 1e-14,
        100 * (abs({{ mdi }} - {{ pdi }}) / ({{ mdi }} + {{ pdi }})),
        0
    )
{%- endmacro %}
