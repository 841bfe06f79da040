{#-
    stoch_fastk(high, low, close, fastk_n=14, partition_by='code', order_by='rn')

    Stage 1 of TA-Lib STOCH(high, low, close, fastk_n, slowk_n, SMA, slowd_n, SMA): fast %K =
    100 * (close - lowest low) / (highest high - lowest low) over fastk_n sessions, clamped to [0, 100];
    0 on a flat window (range within 1e-14 of |HH| + |LL|, TA-Lib's scaled test). First non-NULL
    rn = fastk_n - 1 (13); this is TA-Lib STOCHF's fastk.

    Chain for STOCH(14, 3, SMA, 3, SMA), published from rn = 14-1 + 3-1 + 3-1 = 17:
        with k1 as (select *, {{ stoch_fastk('high', 'low', 'close', 14) }} as stoch_fastk from prices),
        k2 as (select *, {{ stoch_slowk('stoch_fastk', 14, 3) }} as stoch_slowk_line from k1),
        k3 as (
            select *,
                {{ lookback_mask('stoch_slowk_line', 17) }} as stoch_k,
                {{ stoch_slowd('stoch_slowk_line', 14, 3, 3) }} as stoch_d
            from k2
        )
-#}
{% macro stoch_fastk(high, low, close, fastk_n=14, partition_by='code', order_by='rn') -%}
    {%- set hh = 'max(' ~ high ~ ') ' ~ indicator_window(fastk_n, partition_by, order_by) -%}
    {%- set ll = 'min(' ~ low ~ ') ' ~ indicator_window(fastk_n, partition_by, order_by) -%}
    if(
        {{ order_by }} >= {{ fastk_n - 1 }},
        if(
            abs({{ hh }} - {{ ll }}) <= 1e-14 * (abs({{ hh }}) + abs({{ ll }})),
            0,
            least(greatest((({{ close }} - {{ ll }}) / ({{ hh }} - {{ ll }})) * 100, 0), 100)
        ),
        null
    )
{%- endmacro %}
