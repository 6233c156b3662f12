{#- Generic test (docs/metrics.md invariant 3, for a breakdown mart whose rows split the
    requests): the rows of each `group_by` combination add up to the total of the same
    period and model / provider filter in mart_usage_summary (all other filters '*'),
    for each of `measures` (counts exactly, spend to rounding). Returns the combinations
    that disagree. Not for tags: a request counts under each of its tags. -#}
{% test group_rows_add_up(model, group_by, measures) %}
{%- set joined = ['grain', 'period_start'] + (filter_dimensions() | select('in', group_by) | list) %}
with parts as (
    select {{ group_by | join(', ') }},
        {%- for m in measures %}
        sum({{ m }}) as {{ m }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
    group by {{ group_by | join(', ') }}
),

totals as (
    select *
    from {{ ref('mart_usage_summary') }}
    where {% for column in filter_dimensions() if column not in group_by %}{{ column }} = '*' and {% endfor %}true
)

select parts.*
from parts
left join totals using ({{ joined | join(', ') }})
where false
{%- for m in measures %}
    {%- if m == 'spend_usd' %}
   or abs(parts.{{ m }} - coalesce(totals.{{ m }}, -1)) > 1e-9 * greatest(1, abs(parts.{{ m }}))
    {%- else %}
   or parts.{{ m }} is distinct from totals.{{ m }}
    {%- endif %}
{%- endfor %}
{% endtest %}
