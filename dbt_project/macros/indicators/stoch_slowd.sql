{#-
    stoch_slowd(slowk, fastk_n=14, slowk_n=3, slowd_n=3, partition_by='code', order_by='rn')

    Stage 3 of TA-Lib STOCH: slow %D = SMA(slowd_n) of the slow %K column of the previous CTE.
    First non-NULL rn = fastk_n + slowk_n + slowd_n - 3 (17). Chain in stoch_fastk.
-#}
{% macro stoch_slowd(slowk, fastk_n=14, slowk_n=3, slowd_n=3, partition_by='code', order_by='rn') -%}
    {{ sma(slowk, slowd_n, fastk_n + slowk_n - 2, partition_by, order_by) }}
{%- endmacro %}
