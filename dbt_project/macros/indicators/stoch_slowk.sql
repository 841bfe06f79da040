{#-
    stoch_slowk(fastk, fastk_n=14, slowk_n=3, partition_by='code', order_by='rn')

    Stage 2 of TA-Lib STOCH: slow %K = SMA(slowk_n) of the fast %K column of the previous CTE. Valid from
    rn = fastk_n + slowk_n - 2 (15); TA-Lib publishes it from the slow %D's first row (17): wrap the
    published column in lookback_mask(..., fastk_n + slowk_n + slowd_n - 3). Chain in stoch_fastk.
-#}
{% macro stoch_slowk(fastk, fastk_n=14, slowk_n=3, partition_by='code', order_by='rn') -%}
    {{ sma(fastk, slowk_n, fastk_n - 1, partition_by, order_by) }}
{%- endmacro %}
