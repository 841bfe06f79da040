{#-
    feature_window(lookback_days=45)

    The half-open date window [min, max) an incremental feature model rebuilds, as SQL expressions
    ({'min': ..., 'max': ..., 'bounded': bool}). Dagster passes a partition's window as --vars min_date / max_date.
    A first build or --full-refresh takes the vars as given (by default everything). An incremental run reaches
    back `lookback_days` further, because the `target_*` labels of the last 20 sessions become known only now;
    without vars (plain `dbt build`) it takes that look-back from the newest date already built. `bounded` is
    false when the window starts at the beginning of time (a full build), so callers can skip narrowing filters.
-#}
{% macro feature_window(lookback_days=45) -%}
    {%- set max_date = "toDate('" ~ var('max_date') ~ "')" -%}
    {%- if not is_incremental() -%}
        {%- set min_date = "toDate('" ~ var('min_date') ~ "')" -%}
    {%- elif var('min_date') != '1900-01-01' -%}
        {%- set min_date = "toDate('" ~ var('min_date') ~ "') - " ~ lookback_days -%}
    {%- else -%}
        {%- set min_date = "(select max(date) from " ~ this ~ ") - " ~ lookback_days -%}
    {%- endif -%}
    {{ return({'min': min_date, 'max': max_date, 'bounded': min_date != "toDate('1900-01-01')"}) }}
{%- endmacro %}
