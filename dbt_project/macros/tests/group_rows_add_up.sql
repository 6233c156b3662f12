{#- Generic test (docs/metrics.md invariant 3, for a breakdown mart whose rows split the
    requests): the rows of each period and filter combination (and of each `within`
    column's value, e.g. the group mart's `dimension`) add up to mart_usage_summary's row
    of the same period and filters, for each of `measures` (counts exactly, spend to
    rounding). Returns the combinations that disagree, or have no total. Not for tags: a
    request counts under each of its tags. -#}
{% test group_rows_add_up(model, measures, within=[]) %}
{%- set key = ['grain', 'period_start'] + filter_dimensions() %}
with parts as (
    select {{ (key + within) | join(', ') }},
        {%- for m in measures %}
        sum({{ m }}) as {{ m }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
    group by {{ (key + within) | join(', ') }}
)

select parts.*
from parts
left join {{ ref('mart_usage_summary') }} as totals using ({{ key | join(', ') }})
where false
{%- for m in measures %}
    {%- if m == 'spend_usd' %}
   or abs(parts.{{ m }} - coalesce(totals.{{ m }}, -1)) > 1e-9 * greatest(1, abs(parts.{{ m }}))
    {%- else %}
   or parts.{{ m }} is distinct from totals.{{ m }}
    {%- endif %}
{%- endfor %}
{% endtest %}
