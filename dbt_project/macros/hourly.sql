{#- The hour grain (docs/metrics.md, "Hours"). The hourly facts and marts hold one row
    per local hour of the reporting zone (macros/reporting_time.sql) within the hourly
    retention; they key their rows by the local day (event_date), so a build replaces
    the days it touches as the daily facts do. -#}

{#- The columns that identify an hour: the instant it begins, its local label, its UTC
    offset in minutes and the local day it belongs to. -#}
{% macro hour_columns() -%}
    {{ return(['hour_start', 'hour_label', 'utc_offset_minutes', 'event_date']) }}
{%- endmacro %}

{#- After each build of an hourly model: delete the days the retention no longer keeps
    (the days a build does not touch are otherwise never rewritten). On Spark, whose
    Parquet tables have no DELETE, the old hours stay until a full refresh. -#}
{% macro drop_expired_hours() -%}
    {{ return(adapter.dispatch('drop_expired_hours', 'llm_usage')()) }}
{%- endmacro %}

{% macro default__drop_expired_hours() -%}
    delete from {{ this }} where event_date < {{ first_hourly_day() }}
{%- endmacro %}

{% macro spark__drop_expired_hours() -%}
    select 1
{%- endmacro %}

{#- Pay-as-you-go rows of fct_usage_hourly with grain 'hour' and the hour's instant as
    period_start, limited on incremental runs to the days this run touches. -#}
{% macro pay_as_you_go_hourly_usage() -%}
    select
        'hour' as grain,
        hour_start as period_start,
        hour_label,
        utc_offset_minutes,
        event_date,
        {{ (fact_dimensions() + usage_measures().keys() | list) | join(', ') }}
    from {{ ref('fct_usage_hourly') }}
    where billing_mode = 'pay_as_you_go'
    {%- if is_incremental() %}
      and event_date in {{ touched_periods('day') }}
    {%- endif %}
{%- endmacro %}

{#- docs/metrics.md invariant: every measure of the hours of a local day (fct_usage_hourly)
    adds up to that day's row of fct_usage_daily (counts exactly; milliseconds, seconds
    and USD to rounding), for every day the hourly retention keeps. Returns the rows that
    disagree. A nightly build checks the days it rebuilt. -#}
{% macro hours_sum_to_day() -%}
{%- set keys = fact_dimensions() + ['billing_mode'] %}
{%- set limited = tests_limited_to_build() %}
with hours as (
    select event_date, {{ keys | join(', ') }},
        {{ sum_usage_measures(from_request_grain=false) }}
    from {{ ref('fct_usage_hourly') }}
    {%- if limited %}
    where event_date in {{ touched_periods('day') }}
    {%- endif %}
    group by all
),

days as (
    select event_date, {{ keys | join(', ') }},
        {%- for name in usage_measures() %}
        {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('fct_usage_daily') }}
    where event_date >= {{ first_hourly_day() }}
    {%- if limited %}
      and event_date in {{ touched_periods('day') }}
    {%- endif %}
)

select *
from hours as h
full outer join days as d
    using (event_date, {{ keys | join(', ') }})
where false
{%- for name in usage_measures() %}
    {%- if usage_measure_type(name) == 'double' %}
   or abs(coalesce(h.{{ name }}, -1) - coalesce(d.{{ name }}, -2)) > 1e-6 * greatest(1, abs(d.{{ name }}))
    {%- else %}
   or h.{{ name }} is distinct from d.{{ name }}
    {%- endif %}
{%- endfor %}
{%- endmacro %}

{#- The same for the latency sketches: the bucket counts and value sums of the hours of a
    local day (fct_latency_sketch_hourly) equal that day's fct_latency_sketch_daily rows,
    so hourly percentiles merge into the day's exactly. -#}
{% macro hourly_sketches_sum_to_day() -%}
{%- set keys = fact_dimensions() + ['billing_mode', 'measure', 'bucket'] %}
{%- set limited = tests_limited_to_build() %}
with hours as (
    select event_date, {{ keys | join(', ') }},
        sum(requests) as requests, sum(value_sum) as value_sum
    from {{ ref('fct_latency_sketch_hourly') }}
    {%- if limited %}
    where event_date in {{ touched_periods('day') }}
    {%- endif %}
    group by all
),

days as (
    select event_date, {{ keys | join(', ') }}, requests, value_sum
    from {{ ref('fct_latency_sketch_daily') }}
    where event_date >= {{ first_hourly_day() }}
    {%- if limited %}
      and event_date in {{ touched_periods('day') }}
    {%- endif %}
)

select *
from hours as h
full outer join days as d
    using (event_date, {{ keys | join(', ') }})
where h.requests is distinct from d.requests
   or abs(coalesce(h.value_sum, -1) - coalesce(d.value_sum, -2)) > 1e-6 * greatest(1, abs(d.value_sum))
{%- endmacro %}
