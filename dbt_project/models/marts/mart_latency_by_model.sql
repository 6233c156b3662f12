{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, Latency by Model: latency_ms of successful requests. Grain: grain x
-- period_start x model (real values) x api_key_id x provider ('*' = all).
-- Pay-as-you-go requests only; a model without successful requests has no row.
with requests as (
    {{ pay_as_you_go_requests(columns=['api_key_id', 'model', 'provider', 'is_success', 'latency_ms']) }}
),

figures as (
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='model') }},
        count(*) as successful_requests,
        avg(latency_ms) as avg_latency_ms,
        {{ percentiles('latency_ms', [0.5, 0.9, 0.99]) }} as latency_ms_percentiles
    from requests
    where is_success
    {{ group_by_filters(breakdown='model') }}
)

select
    grain,
    period_start,
    api_key_id,
    model,
    provider,
    successful_requests,
    avg_latency_ms,
    latency_ms_percentiles[1] as p50_latency_ms,
    latency_ms_percentiles[2] as p90_latency_ms,
    latency_ms_percentiles[3] as p99_latency_ms,
    current_timestamp as built_at
from figures
