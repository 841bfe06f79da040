{#-
    rolling_stddev_samp(expr, n, stable=false, partition_by='code', order_by='rn')

    Sample standard deviation (ddof 1) of the last n values (numpy std(ddof=1)); NULL unless all n values of
    the frame are non-NULL, so it runs over a lagged column such as ret_1d (NULL at rn 0, first non-NULL
    rn = n). One line, in the CTE after the one defining ret_1d:
    `{{ rolling_stddev_samp('ret_1d', 20) }} * sqrt(252) as vol_20d`.
    stable=false: sqrt((sum x^2 - (sum x)^2 / n) / (n - 1)) from window sums (see rolling_moments): fast, and
    exact to ~1e-16 * (mean / sigma)^2, which is nothing for returns. stable=true: stddevSampStable
    (Welford), for price levels (a 50,000-yen stock moving 1 yen a day has (mean / sigma)^2 ~ 1e9).
-#}
{% macro rolling_stddev_samp(expr, n, stable=false, partition_by='code', order_by='rn') -%}
    {%- set m = rolling_moments(expr, none, n, partition_by, order_by) -%}
    if(
        {{ m.count }} = {{ n }},
        {%- if stable %}
        stddevSampStable(toFloat64({{ expr }})) {{ indicator_window(n, partition_by, order_by) }},
        {%- else %}
        sqrt(greatest({{ m.sxx }} - {{ m.sx }} * {{ m.sx }} / {{ n }}, 0) / {{ n - 1 }}),
        {%- endif %}
        null
    )
{%- endmacro %}
