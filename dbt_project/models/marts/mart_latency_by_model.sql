{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, Latency by Model: latency_ms of successful requests. Grain: grain x
-- period_start x model (real values) x api_key_id x provider ('*' = all).
-- Pay-as-you-go requests only; a model without successful requests has no row.
with requests as (
    {{ pay_as_you_go_requests() }}
)

select
    grain,
    period_start,
    {{ filter_columns(breakdown='model') }},
    count(*) as successful_requests,
    avg(latency_ms) as avg_latency_ms,
    {{ percentile('latency_ms', 0.5) }} as p50_latency_ms,
    {{ percentile('latency_ms', 0.9) }} as p90_latency_ms,
    {{ percentile('latency_ms', 0.99) }} as p99_latency_ms,
    current_timestamp as built_at
from requests
where is_success
{{ group_by_filters(breakdown='model') }}
