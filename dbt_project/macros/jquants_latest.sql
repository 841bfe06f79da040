{#-
    The rows of a raw J-Quants table that staging may see: only loads committed in `_load_log` (a load killed
    half-way is invisible), and of those the latest landing of each natural key (re-landing never duplicates).
    Used only in staging models, the one layer that reads sources.
-#}
{% macro jquants_latest(table_name, key_columns) -%}
    select *
    from {{ source('jquants', table_name) }}
    where _load_id in (select load_id from {{ source('jquants', 'load_log') }})
    order by _loaded_at desc
    limit 1 by {{ key_columns | join(', ') }}
{%- endmacro %}
