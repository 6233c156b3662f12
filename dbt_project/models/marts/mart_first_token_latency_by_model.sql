{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, First Token Latency by Model: first_token_ms of successful streaming
-- requests. Grain: grain x period_start x model (real values) x api_key_id x provider
-- ('*' = all). Pay-as-you-go requests only; a model without such requests has no row.
with requests as (
    {{ pay_as_you_go_requests(columns=['api_key_id', 'model', 'provider', 'is_success', 'stream', 'first_token_ms']) }}
),

figures as (
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='model') }},
        count(*) as streaming_requests,
        avg(first_token_ms) as avg_first_token_ms,
        {{ percentiles('first_token_ms', [0.5, 0.9, 0.99]) }} as first_token_ms_percentiles
    from requests
    where is_success and stream and first_token_ms is not null
    {{ group_by_filters(breakdown='model') }}
)

select
    grain,
    period_start,
    api_key_id,
    model,
    provider,
    streaming_requests,
    avg_first_token_ms,
    first_token_ms_percentiles[1] as p50_first_token_ms,
    first_token_ms_percentiles[2] as p90_first_token_ms,
    first_token_ms_percentiles[3] as p99_first_token_ms,
    current_timestamp as built_at
from figures
