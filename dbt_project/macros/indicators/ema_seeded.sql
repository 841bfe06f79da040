{#-
    ema_seeded(expr, n, first_rn=0, alpha=none, partition_by='code', order_by='rn')

    TA-Lib's exponential smoothing seeded with a simple mean: E(k) = mean(expr over rn in [first_rn, k])
    at k = first_rn + n - 1, then E(i) = alpha * x(i) + (1 - alpha) * E(i-1). alpha defaults to
    2 / (n + 1) (EMA); Wilder's smoothing passes alpha = 1 / n (see wilder_smooth). First non-NULL rn = k.
    Rows before first_rn (and NULLs) enter as 0, which is how an intermediate line that starts later (MACD
    line at 25, DX at n) is smoothed the way TA-Lib smooths its own buffer.

    How: ClickHouse's exponentialMovingAverage(h)(y, rn) is the seedless recursion
    S(i) = alpha * y(i) + (1 - alpha) * S(i-1), S(-1) = 0, for h = -1 / log2(1 - alpha) (see
    /work/shared/notes/upstream-gaps.md). Feeding it y(j) = x(j) / (n * alpha * (1 - alpha)^(k - j)) for
    first_rn <= j <= k and y(j) = x(j) after k makes S(k) = alpha * sum of x(j) / (n * alpha) = the seed
    mean, and from there on S follows E's recursion, so S(i) = E(i) for i >= k. One running window
    function per EMA, no arrayFold, no second window for the seed correction; exact to ~1e-15 relative
    (the weights are at most (1 - alpha)^-(n-1) / (n * alpha), below 4 for every alpha used here).
-#}
{% macro ema_seeded(expr, n, first_rn=0, alpha=none, partition_by='code', order_by='rn') -%}
    {%- set a = alpha if alpha is not none else '(2 / (' ~ n ~ ' + 1))' -%}
    {%- set k = first_rn + n - 1 -%}
    {%- set y -%}
        multiIf(
            {{ order_by }} > {{ k }}, ifNull(toFloat64({{ expr }}), 0),
            {{ order_by }} >= {{ first_rn }},
            ifNull(toFloat64({{ expr }}), 0) / ({{ n }} * {{ a }} * pow(1 - {{ a }}, {{ k }} - {{ order_by }})),
            0
        )
    {%- endset -%}
    if(
        {{ order_by }} >= {{ k }},
        exponentialMovingAverage(-1 / log2(1 - {{ a }}))({{ y }}, {{ order_by }})
            {{ indicator_window(none, partition_by, order_by) }},
        null
    )
{%- endmacro %}
