{#- Generic test: none of `columns` is null (for models whose column list is shared).
    `__dimensions__` stands for every declared dimension column, ids, names and lists
    (macros/dimensions.sql): a missing id is '(none)', a missing list empty, never NULL. -#}
{% test not_null_columns(model, columns) %}
{%- set expanded = [] %}
{%- for column in columns %}
    {%- if column == '__dimensions__' %}
        {%- do expanded.extend(dimension_columns()) %}
    {%- else %}
        {%- do expanded.append(column) %}
    {%- endif %}
{%- endfor %}
select {{ expanded | join(', ') }}
from {{ model }}
where {% for column in expanded %}{{ column }} is null{{ " or " if not loop.last }}{% endfor %}
{% endtest %}
