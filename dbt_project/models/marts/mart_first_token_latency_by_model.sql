{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, First Token Latency by Model: first_token_ms of successful streaming
-- requests whose first token is known and not after the last byte
-- (fct_requests.in_first_token_figures). Grain: grain x period_start x model (real
-- values) x the filter columns ('*' = all). Pay-as-you-go requests only; a model without
-- such requests has no row. Columns: streaming_requests, avg_first_token_ms (exact) and
-- p50/p90/p99_first_token_ms (within the sketch's relative error), from the first-token
-- sketch facts (macros/sketch.sql, percentiles_by_model: the same SQL as
-- mart_latency_by_model, for another measure).
{{ percentiles_by_model('first_token_ms', count_column='streaming_requests', fractions=[0.5, 0.9, 0.99]) }}
