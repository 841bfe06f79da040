{#- A model's +schema is the ClickHouse database it lands in (staging, intermediate, marts), with no target prefix:
    the data contract names these databases, and analysts query them by those names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
