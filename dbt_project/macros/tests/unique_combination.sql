{#- Generic test: `columns` are the model's grain: no two rows share the same values in
    them, and none of them is NULL. Written here because dbt packages cannot be installed
    from the hub. One test for the whole key rather than a not_null test per column: every
    dbt test is also a Dagster asset check with two events (planned, evaluated) written to
    the run storage each night, and one query instead of six.

    `columns` may name `__fact_dimensions__` (the facts' dimension columns) or
    `__filters__` (the marts' filter columns): they follow the declared dimensions
    (macros/dimensions.sql), so no test lists them by hand. -#}
{% test unique_combination(model, columns) %}
{%- set expanded = [] %}
{%- for column in columns %}
    {%- if column == '__fact_dimensions__' %}
        {%- do expanded.extend(fact_dimensions()) %}
    {%- elif column == '__filters__' %}
        {%- do expanded.extend(filter_dimensions()) %}
    {%- else %}
        {%- do expanded.append(column) %}
    {%- endif %}
{%- endfor %}
{%- set columns = expanded %}
select {{ columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
    or sum(case when {% for c in columns %}{{ c }} is null{{ " or " if not loop.last }}{% endfor %} then 1 else 0 end) > 0
{% endtest %}
