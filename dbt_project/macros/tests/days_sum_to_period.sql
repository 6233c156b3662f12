{#- docs/metrics.md invariant 2, for one rolled-up grain: every measure of fct_usage_periods'
    rows of `grain` ('week' or 'month') equals the sum of the daily rows of its period
    (counts exactly; milliseconds and seconds to rounding). Returns the rows that disagree;
    used by the singular tests. A nightly build checks the periods it rebuilt
    (macros/test_scope.sql): no other period of either fact changed, so reading all of
    history again each night would check nothing new. -#}
{% macro days_sum_to_period(grain) -%}
{%- set keys = fact_dimensions() + ['billing_mode'] %}
{%- set period_of_day = week_start('event_date') if grain == 'week' else month_start('event_date') %}
{%- set limited = tests_limited_to_build() %}
with days as (
    select {{ period_of_day }} as period_start, {{ keys | join(', ') }},
        {{ sum_usage_measures(from_request_grain=false) }}
    from {{ ref('fct_usage_daily') }}
    {%- if limited %}
    where {{ period_of_day }} in {{ touched_periods(grain) }}
    {%- endif %}
    group by all
),

periods as (
    select *
    from {{ ref('fct_usage_periods') }}
    where grain = '{{ grain }}'
    {%- if limited %}
      and period_start in {{ touched_periods(grain) }}
    {%- endif %}
)
select *
from days as d
full outer join periods as p
    using (period_start, {{ keys | join(', ') }})
where false
{%- for name in usage_measures() %}
    {%- if usage_measure_type(name) == 'double' %}
   or abs(coalesce(d.{{ name }}, -1) - coalesce(p.{{ name }}, -2)) > 1e-6 * greatest(1, abs(d.{{ name }}))
    {%- else %}
   or d.{{ name }} is distinct from p.{{ name }}
    {%- endif %}
{%- endfor %}
{%- endmacro %}
