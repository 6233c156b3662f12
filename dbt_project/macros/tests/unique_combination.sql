{#- Generic test: `columns` are the model's grain: no two rows share the same values in
    them, and none of them is NULL. Written here because dbt packages cannot be installed
    from the hub. One test for the whole key rather than a not_null test per column: every
    dbt test is also a Dagster asset check with two events (planned, evaluated) written to
    the run storage each night, and one query instead of six. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
    or sum(case when {% for c in columns %}{{ c }} is null{{ " or " if not loop.last }}{% endfor %} then 1 else 0 end) > 0
{% endtest %}
