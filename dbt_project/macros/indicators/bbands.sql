{#-
    bbands(expr, n=20, nbdev=2, band='middle', partition_by='code', order_by='rn')

    TA-Lib BBANDS(expr, n, nbdev, nbdev, SMA): band 'middle' = SMA(n); 'upper' / 'lower' =
    middle +/- nbdev * sigma, sigma the POPULATION standard deviation of the last n values (0 where the
    variance is below 1e-14, as TA-Lib). Lookback n-1: first non-NULL rn = n - 1. One stage, one line per
    band: `{{ bbands('close', 20, 2, 'upper') }} as bb_upper_20`.
    The variance is varPopStable (Welford): TA-Lib 0.8 computes it from shifted data, free of the
    cancellation of sum(x^2)/n - mean^2 that plain varPop would bring on high-priced, quiet stocks.
-#}
{% macro bbands(expr, n=20, nbdev=2, band='middle', partition_by='code', order_by='rn') -%}
    {%- set middle = 'sum(toFloat64(' ~ expr ~ ')) ' ~ indicator_window(n, partition_by, order_by) ~ ' / ' ~ n -%}
    {%- set variance = 'varPopStable(toFloat64(' ~ expr ~ ')) ' ~ indicator_window(n, partition_by, order_by) -%}
    {%- set deviation = 'if(' ~ variance ~ ' < 1e-14, 0, sqrt(' ~ variance ~ ')) * ' ~ nbdev -%}
    {%- if band == 'middle' -%}
        {%- set value = middle -%}
    {%- elif band == 'upper' -%}
        {%- set value = middle ~ ' + ' ~ deviation -%}
    {%- elif band == 'lower' -%}
        {%- set value = middle ~ ' - ' ~ deviation -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("bbands: band must be 'upper', 'middle' or 'lower', got " ~ band) }}
    {%- endif -%}
    if({{ order_by }} >= {{ n - 1 }}, {{ value }}, null)
{%- endmacro %}
