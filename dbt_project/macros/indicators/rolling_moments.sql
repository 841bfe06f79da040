{#-
    rolling_moments(x, y=none, n=20, partition_by='code', order_by='rn')

    The window sums behind the fast (stable=false) rolling statistics, as a dict of SQL expressions over the
    last n rows: count (rows where x, and y if given, are non-NULL), sx = sum x, sxx = sum x^2 and, with y,
    sy, syy, sxy. NULLs enter the sums as 0; callers return NULL unless count = n.
    Why sums: ClickHouse recomputes a sliding frame for every row; `sum` over a non-Nullable column does that
    with vectorized adds, while covarPop / varPop / corr / the *Stable variants add row by row, 3x (moment
    formulas) to 6x (Welford) slower over a 60-row frame. The moment formulas built from these sums lose
    ~1e-16 * (mean / sigma)^2 relative: nothing for returns, too much for price levels (use stable=true).
    Called from Jinja (`{% set m = rolling_moments('ret_1d', none, 20) %}`), not from SQL.
-#}
{% macro rolling_moments(x, y=none, n=20, partition_by='code', order_by='rn') -%}
    {%- set w = indicator_window(n, partition_by, order_by) -%}
    {%- set fx = 'ifNull(toFloat64(' ~ x ~ '), 0)' -%}
    {%- set m = {
        'count': 'countIf((' ~ x ~ ') is not null' ~ ('' if y is none else ' and (' ~ y ~ ') is not null') ~ ') ' ~ w,
        'sx': 'sum(' ~ fx ~ ') ' ~ w,
        'sxx': 'sum(' ~ fx ~ ' * ' ~ fx ~ ') ' ~ w,
    } -%}
    {%- if y is not none -%}
        {%- set fy = 'ifNull(toFloat64(' ~ y ~ '), 0)' -%}
        {%- do m.update({
            'sy': 'sum(' ~ fy ~ ') ' ~ w,
            'syy': 'sum(' ~ fy ~ ' * ' ~ fy ~ ') ' ~ w,
            'sxy': 'sum(' ~ fx ~ ' * ' ~ fy ~ ') ' ~ w,
        }) -%}
    {%- endif -%}
    {{ return(m) }}
{%- endmacro %}
