{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, Throughput by Model: over the requests in the throughput figures
-- (fct_requests.in_throughput_figures: throughput_tps defined, latency plausible, below
-- the ceiling; macros/derived_fields.sql). Grain: grain x period_start x
-- model (real values) x the other filter columns ('*' = all). Pay-as-you-go requests only;
-- a model without such requests has no row.
-- Percentiles from the throughput sketch facts at each grain (within the sketch's relative error,
-- macros/sketch.sql); the count and Σ output tokens / Σ generation seconds exact, from
-- the usage facts.
with merged as (
    {{ merged_sketch('throughput_tps') }}
),

percentiles as (
    {{ sketch_percentiles('merged', mart_key_columns(), [0.5, 0.9],
                          ['p50_throughput_tps', 'p90_throughput_tps']) }}
),

usage as (
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='model') }},
        cast(sum(throughput_requests) as bigint) as throughput_requests,
        {{ ratio('sum(throughput_output_tokens)', 'sum(throughput_generation_seconds)') }} as avg_throughput_tps
    from ({{ pay_as_you_go_usage() }}) as by_grain
    where throughput_requests > 0
    {{ group_by_filters(breakdown='model') }}
)

select
    {%- for column in mart_key_columns() %}
    {{ column }},
    {%- endfor %}
    usage.throughput_requests,
    usage.avg_throughput_tps,
    percentiles.p50_throughput_tps,
    percentiles.p90_throughput_tps,
    current_timestamp as built_at
from percentiles
inner join usage using ({{ mart_key_columns() | join(', ') }})
