{{ config(meta={'dagster': {'ref': {'name': 'fct_usage_weekly'}}}) }}
-- METRICS.md invariant 2: every measure of fct_usage_weekly = the sum of the daily rows of
-- its week (counts exactly; milliseconds and seconds to rounding).
{%- set keys = ['api_key_id', 'model', 'provider', 'billing_mode'] %}
with days as (
    select {{ week_start('event_date') }} as week_start, {{ keys | join(', ') }},
        {{ sum_usage_measures(from_request_grain=false) }}
    from {{ ref('fct_usage_daily') }}
    group by all
)
select *
from days as d
full outer join {{ ref('fct_usage_weekly') }} as p
    using (week_start, {{ keys | join(', ') }})
where false
{%- for name in usage_measures() %}
    {%- if usage_measure_type(name) == 'double' %}
   or abs(coalesce(d.{{ name }}, -1) - coalesce(p.{{ name }}, -2)) > 1e-6 * greatest(1, abs(d.{{ name }}))
    {%- else %}
   or d.{{ name }} is distinct from p.{{ name }}
    {%- endif %}
{%- endfor %}
