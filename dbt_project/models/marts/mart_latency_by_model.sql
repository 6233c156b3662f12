{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, Latency by Model: latency_ms of successful requests with a plausible
-- latency (fct_requests.in_latency_figures). Grain: grain x period_start x model (real
-- values) x the filter columns ('*' = all). Pay-as-you-go requests only; a model without
-- successful requests has no row. Columns: successful_requests, avg_latency_ms (exact)
-- and p50/p90/p99_latency_ms (within the sketch's relative error), from the latency
-- sketch facts (macros/sketch.sql, percentiles_by_model: the same SQL as
-- mart_first_token_latency_by_model, for another measure).
{{ percentiles_by_model('latency_ms', count_column='successful_requests', fractions=[0.5, 0.9, 0.99]) }}
