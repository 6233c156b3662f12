{#- Generic test: the `parts` columns add up exactly to `total` on every row. -#}
{% test parts_add_up(model, parts, total) %}
select *
from {{ model }}
where {{ parts | join(' + ') }} <> {{ total }}
{% endtest %}
