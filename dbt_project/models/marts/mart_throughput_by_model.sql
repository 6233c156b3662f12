{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, Throughput by Model: over requests whose throughput_tps is defined
-- (successful, output_tokens > 0, generation_ms > 0). Grain: grain x period_start x
-- model (real values) x api_key_id x provider ('*' = all). Pay-as-you-go requests only;
-- a model without such requests has no row.
with requests as (
    {{ pay_as_you_go_requests(columns=['api_key_id', 'model', 'provider', 'output_tokens', 'generation_ms', 'throughput_tps']) }}
),

figures as (
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='model') }},
        count(*) as throughput_requests,
        {{ average_throughput() }} as avg_throughput_tps,
        {{ percentiles('throughput_tps', [0.5, 0.9]) }} as throughput_tps_percentiles
    from requests
    where throughput_tps is not null
    {{ group_by_filters(breakdown='model') }}
)

select
    grain,
    period_start,
    api_key_id,
    model,
    provider,
    throughput_requests,
    avg_throughput_tps,
    throughput_tps_percentiles[1] as p50_throughput_tps,
    throughput_tps_percentiles[2] as p90_throughput_tps,
    current_timestamp as built_at
from figures
