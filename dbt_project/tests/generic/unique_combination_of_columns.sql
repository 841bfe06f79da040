{#- Fails with each combination of `combination_of_columns` that occurs more than once (the grain of a model).
    Written here rather than taken from dbt-utils: dbt packages are not installable offline, and this one is
    covered by tests/dbt/test_generic_tests.py. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count() as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count() > 1

{% endtest %}
