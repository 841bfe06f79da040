{#-
    cross_sectional_rank(expr, partition_by='date')
    Percentile rank in [0, 1] of `expr` among the rows of the same `partition_by` (by default, all codes on a
    date); NULL where `expr` is NULL, and NULL values do not count. Ties take the lowest rank.
    One line: `{{ cross_sectional_rank('ret_20d') }} as cs_rank_ret_20d`.
-#}
{% macro cross_sectional_rank(expr, partition_by='date') -%}
    if(
        {{ expr }} is null,
        null,
        (rank() over (partition by {{ partition_by }}, isNull({{ expr }}) order by {{ expr }}) - 1)
        / nullIf(count({{ expr }}) over (partition by {{ partition_by }}) - 1, 0)
    )
{%- endmacro %}
