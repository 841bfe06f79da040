{#- Fails with every row where `expression` is not true (NULL counts as true only with `allow_null`). -#}
{% test expression_is_true(model, expression, allow_null=false) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), {{ 'true' if allow_null else 'false' }})

{% endtest %}
