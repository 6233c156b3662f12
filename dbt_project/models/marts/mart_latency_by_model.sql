{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, Latency by Model: latency_ms of successful requests with a plausible
-- latency (fct_requests.in_latency_figures). Grain: grain x
-- period_start x model (real values) x api_key_id x provider ('*' = all).
-- Pay-as-you-go requests only; a model without successful requests has no row.
-- From the latency sketch facts: counts and the mean exact, percentiles within the
-- sketch's relative error (macros/sketch.sql).
with merged as (
    {{ merged_sketch('latency_ms') }}
),

figures as (
    {{ sketch_percentiles('merged', mart_key_columns(), [0.5, 0.9, 0.99],
                          ['p50_latency_ms', 'p90_latency_ms', 'p99_latency_ms']) }}
)

select
    grain,
    period_start,
    api_key_id,
    model,
    provider,
    cast(requests as bigint) as successful_requests,
    {{ ratio('value_sum', 'requests') }} as avg_latency_ms,
    p50_latency_ms,
    p90_latency_ms,
    p99_latency_ms,
    current_timestamp as built_at
from figures
