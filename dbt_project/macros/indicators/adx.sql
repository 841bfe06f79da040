{#-
    adx(sm_plus_dm, sm_minus_dm, sm_tr, n=14, partition_by='code', order_by='rn')

    TA-Lib ADX(high, low, close, n): the mean of DX over rn n..2n-1, then Wilder-smoothed
    (ADX(i) = (ADX(i-1) * (n - 1) + DX(i)) / n). Lookback 2n - 1: first non-NULL rn = 27 for n = 14.
    Three stages, because DX is built from window outputs and a window function cannot nest:

        with lagged as (      -- CTE 1: previous session
            select *, {{ lag('high') }} as prev_high, {{ lag('low') }} as prev_low,
                {{ lag('close') }} as prev_close
            from prices
        ),
        smoothed as (         -- CTE 2: Wilder running sums of +DM, -DM, TR
            select *,
                {{ dmi_smooth(plus_dm('high', 'low', 'prev_high', 'prev_low'), 14) }} as sm_plus_dm_14,
                {{ dmi_smooth(minus_dm('high', 'low', 'prev_high', 'prev_low'), 14) }} as sm_minus_dm_14,
                {{ dmi_smooth(true_range('high', 'low', 'prev_close'), 14) }} as sm_tr_14
            from lagged
        ),
        directional as (      -- CTE 3: DIs (row-wise) and ADX (window over the row-wise DX)
            select *,
                {{ plus_di('sm_plus_dm_14', 'sm_tr_14', 14) }} as plus_di_14,
                {{ minus_di('sm_minus_dm_14', 'sm_tr_14', 14) }} as minus_di_14,
                {{ adx('sm_plus_dm_14', 'sm_minus_dm_14', 'sm_tr_14', 14) }} as adx_14
            from smoothed
        )

    Known divergence: TA-Lib skips the ADX update (keeps the previous ADX) on a session whose DX is
    undefined (TR sum exactly 0, or |+DI + -DI| < 1e-14), where this macro smooths in DX = 0. Both agree
    while ADX is still 0, i.e. for a series that opens flat; they differ only after some ~500 sessions
    with no directional movement at all (the smoothed DM must decay below 1e-16 of the TR) following
    a move, which traded stocks do not produce.
-#}
{% macro adx(sm_plus_dm, sm_minus_dm, sm_tr, n=14, partition_by='code', order_by='rn') -%}
    {{ ema_seeded(_dx_raw(sm_plus_dm, sm_minus_dm, sm_tr), n, n, '(1 / ' ~ n ~ ')', partition_by, order_by) }}
{%- endmacro %}
