{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, Latency by Model: latency_ms of successful requests. Grain: grain x
-- period_start x model (real values) x api_key_id x provider ('*' = all).
-- Pay-as-you-go requests only; a model without successful requests has no row.
select
    {{ filter_key() }},
    successful_requests,
    avg_latency_ms,
    p50_latency_ms,
    p90_latency_ms,
    p99_latency_ms,
    current_timestamp as built_at
from {{ ref('int_performance_by_filter') }}
where model <> '*' and successful_requests > 0 and {{ in_touched_periods() }}
