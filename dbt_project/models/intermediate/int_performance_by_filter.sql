{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    unique_key=['grain', 'period_start'],
) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Every performance figure of the Performance tab, computed once per run for the
-- performance marts, which only select from it: each mart used to re-read the touched
-- day, week and month of requests and aggregate them again, the summary the same
-- throughput median the throughput mart takes.
-- Grain: grain x period_start x api_key_id x model x provider ('*' = all), one row per
-- combination with any pay-as-you-go request. Percentiles other than the median
-- throughput are shown per model only, so they are computed only for rows with a real
-- model (NULL for model '*'); a figure over no requests is NULL and its count 0.
with requests as (
    {{ pay_as_you_go_requests(columns=[
        'api_key_id', 'model', 'provider', 'is_success', 'stream', 'latency_ms',
        'first_token_ms', 'output_tokens', 'generation_ms', 'throughput_tps',
    ]) }}
),

-- The figures of the summary's headline, for all models. The all-models rows only need
-- the median throughput, so they compute only that percentile.
all_models as (
    select
        grain,
        period_start,
        case when grouping(api_key_id) = 1 then '*' else api_key_id end as api_key_id,
        '*' as model,
        case when grouping(provider) = 1 then '*' else provider end as provider,
        count(*) as requests,
        count(*) filter (where is_success) as successful_requests,
        avg(latency_ms) filter (where is_success) as avg_latency_ms,
        count(throughput_tps) as throughput_requests,
        {{ average_throughput() }} as avg_throughput_tps,
        {{ percentiles('throughput_tps', [0.5]) }} as throughput_tps_percentiles
    from requests
    group by grain, period_start, cube(api_key_id, provider)
),

-- The same per model, with every throughput percentile. Each percentile family has its
-- own aggregate below: measured, one aggregate carrying all three is slower than three.
per_model as (
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='model') }},
        count(*) as requests,
        count(*) filter (where is_success) as successful_requests,
        avg(latency_ms) filter (where is_success) as avg_latency_ms,
        count(throughput_tps) as throughput_requests,
        {{ average_throughput() }} as avg_throughput_tps,
        {{ percentiles('throughput_tps', [0.5, 0.9]) }} as throughput_tps_percentiles
    from requests
    {{ group_by_filters(breakdown='model') }}
),

latency as (
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='model') }},
        {{ percentiles('latency_ms', [0.5, 0.9, 0.99]) }} as latency_ms_percentiles
    from requests
    where is_success
    {{ group_by_filters(breakdown='model') }}
),

first_token as (
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
    {{ filter_key() }},
    requests,
    successful_requests,
    avg_latency_ms,
    latency.latency_ms_percentiles[1] as p50_latency_ms,
    latency.latency_ms_percentiles[2] as p90_latency_ms,
    latency.latency_ms_percentiles[3] as p99_latency_ms,
    coalesce(first_token.streaming_requests, 0) as streaming_requests,
    first_token.avg_first_token_ms,
    first_token.first_token_ms_percentiles[1] as p50_first_token_ms,
    first_token.first_token_ms_percentiles[2] as p90_first_token_ms,
    first_token.first_token_ms_percentiles[3] as p99_first_token_ms,
    throughput_requests,
    avg_throughput_tps,
    throughput_tps_percentiles[1] as p50_throughput_tps,
    throughput_tps_percentiles[2] as p90_throughput_tps
from (
    select * from per_model
    union all by name
    select * from all_models
) as by_filter
left join latency using ({{ filter_key() }})
left join first_token using ({{ filter_key() }})
