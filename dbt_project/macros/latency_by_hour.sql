{#- mart_latency_by_hour's statement for the local days meeting `days` (a condition on
    event_date); the model builds it a day at a time (macros/day_by_day.sql). The Day
    view's hourly latency chart: per local hour, the p50 / p90 / p99 latency and
    first-token latency (sketch-based, within the sketch's relative error) and their
    exact means. Grain: grain ('hour') x period_start (the instant the hour begins) x the
    filter columns in the held combinations ('*' = all), with the hour's local label, UTC
    offset and local day. Pay-as-you-go requests only; from fct_latency_sketch_hourly,
    whose hours add up to the daily sketches exactly. A filter and hour without latency
    figures has no row. -#}
{% macro latency_by_hour_rows(days) -%}
{%- set hour = ['hour_label', 'utc_offset_minutes', 'event_date'] %}
{%- set measures = {'latency_ms': 'latency_ms', 'first_token_ms': 'first_token_ms'} %}
with sketch as (
    select
        'hour' as grain,
        hour_start as period_start,
        {{ hour | join(', ') }},
        {{ fact_dimensions() | join(', ') }},
        measure,
        bucket,
        requests,
        value_sum
    from {{ ref('fct_latency_sketch_hourly') }}
    where billing_mode = 'pay_as_you_go'
      and measure in ('{{ measures | join("', '") }}')
      and {{ days }}
),

merged as (
    select
        grain,
        period_start,
        {{ hour | join(', ') }},
        {{ filter_columns() }},
        measure,
        bucket,
        sum(requests) as requests,
        sum(value_sum) as value_sum
    from sketch
    {{ group_by_filters(extra=hour + ['measure', 'bucket']) }}
),

figures as (
    {{ sketch_percentiles('merged', mart_key_columns() + hour + ['measure'], [0.5, 0.9, 0.99], ['p50', 'p90', 'p99']) }}
)

select
    {%- for column in mart_key_columns() + hour %}
    {{ column }},
    {%- endfor %}
    {%- for measure in measures %}
    cast(sum(case when measure = '{{ measure }}' then requests else 0 end) as bigint) as {{ measure }}_requests,
    {{ ratio("sum(case when measure = '" ~ measure ~ "' then value_sum end)",
             "sum(case when measure = '" ~ measure ~ "' then requests end)") }} as avg_{{ measure }},
    {%- for q in ['p50', 'p90', 'p99'] %}
    max(case when measure = '{{ measure }}' then {{ q }} end) as {{ q }}_{{ measure }},
    {%- endfor %}
    {%- endfor %}
    current_timestamp as built_at
from figures
group by all
{%- endmacro %}
