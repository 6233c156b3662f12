{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, First Token Latency by Model: first_token_ms of successful streaming
-- requests whose first token is known and not after the last byte
-- (fct_requests.in_first_token_figures). Grain: grain x period_start x model (real values) x api_key_id x provider
-- ('*' = all). Pay-as-you-go requests only; a model without such requests has no row.
-- From the first-token sketch facts: counts and the mean exact, percentiles within the
-- sketch's relative error (macros/sketch.sql).
with merged as (
    {{ merged_sketch('first_token_ms') }}
),

figures as (
    {{ sketch_percentiles('merged', mart_key_columns(), [0.5, 0.9, 0.99],
                          ['p50_first_token_ms', 'p90_first_token_ms', 'p99_first_token_ms']) }}
)

select
    grain,
    period_start,
    api_key_id,
    model,
    provider,
    cast(requests as bigint) as streaming_requests,
    {{ ratio('value_sum', 'requests') }} as avg_first_token_ms,
    p50_first_token_ms,
    p90_first_token_ms,
    p99_first_token_ms,
    current_timestamp as built_at
from figures
