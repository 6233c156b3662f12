{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, Throughput by Model: over requests whose throughput_tps is defined
-- (successful, output_tokens > 0, generation_ms > 0). Grain: grain x period_start x
-- model (real values) x api_key_id x provider ('*' = all). Pay-as-you-go requests only;
-- a model without such requests has no row.
select
    {{ filter_key() }},
    throughput_requests,
    avg_throughput_tps,
    p50_throughput_tps,
    p90_throughput_tps,
    current_timestamp as built_at
from {{ ref('int_performance_by_filter') }}
where model <> '*' and throughput_requests > 0 and {{ in_touched_periods() }}
