{#-
    Filling a table in buckets, to bound the memory of a heavy model (dbt-clickhouse has no such option).

    A model configured with
        insert_buckets={'by': 'cityHash64(code)', 'rows_of': 'int_sessions_point_in_time', 'rows_per_bucket': 2500000}
    is created empty, then filled by one INSERT per bucket k of n: `select * from (<model SQL>) where <by> % n = k`,
    n = ceil(rows of the `rows_of` model / rows_per_bucket), at least 1. ClickHouse pushes that filter down to the
    model's inputs when `by` is a function of the window functions' partition key (per-code indicators), so each
    INSERT holds one bucket's sorts and window buffers in memory: the same rows, a fraction of the peak.
    Every other model (and a temporary relation) is created as dbt-clickhouse creates it.

    This overrides dbt-clickhouse's `clickhouse__create_table_as` (root-project macros win the dispatch); the
    default branch is its body, unchanged. Delete this file when dbt-clickhouse can insert in batches.
-#}
{% macro clickhouse__create_table_as(temporary, relation, sql) -%}
    {%- set has_contract = config.get('contract').enforced -%}
    {%- set buckets = config.get('insert_buckets') -%}
    {{ clickhouse__create_empty_table(temporary, relation, sql, has_contract) }}
    {%- if not temporary and buckets %}
        {%- set n = bucket_count(buckets) -%}
        {%- for k in range(n) %}
            {%- set bucket_sql = 'select * from (' ~ sql ~ ') where ' ~ buckets['by'] ~ ' % ' ~ n ~ ' = ' ~ k -%}
            {%- if not loop.last %}
                {%- do log('filling ' ~ relation ~ ': bucket ' ~ (k + 1) ~ ' of ' ~ n) -%}
                {%- do run_query(clickhouse__insert_into(relation, bucket_sql, has_contract)) -%}
            {%- else %}
                {{ clickhouse__insert_into(relation, bucket_sql, has_contract) }}
            {%- endif %}
        {%- endfor %}
    {%- elif not temporary %}
        {{ clickhouse__insert_into(relation, sql, has_contract) }}
    {%- endif %}
{%- endmacro %}

{% macro bucket_count(buckets) -%}
    {%- set rows = run_query('select count() from ' ~ ref(buckets['rows_of'])).columns[0].values()[0] -%}
    {{ return([1, ((rows + buckets['rows_per_bucket'] - 1) // buckets['rows_per_bucket']) | int] | max) }}
{%- endmacro %}
