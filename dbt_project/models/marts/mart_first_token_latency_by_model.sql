{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, First Token Latency by Model: first_token_ms of successful streaming
-- requests. Grain: grain x period_start x model (real values) x api_key_id x provider
-- ('*' = all). Pay-as-you-go requests only; a model without such requests has no row.
select
    {{ filter_key() }},
    streaming_requests,
    avg_first_token_ms,
    p50_first_token_ms,
    p90_first_token_ms,
    p99_first_token_ms,
    current_timestamp as built_at
from {{ ref('int_performance_by_filter') }}
where model <> '*' and streaming_requests > 0 and {{ in_touched_periods() }}
