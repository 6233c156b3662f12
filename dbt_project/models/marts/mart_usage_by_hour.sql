{{ config(unique_key='event_date', post_hook="{{ drop_expired_hours() }}") }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}
-- depends_on: {{ ref('fct_requests') }}

-- The Day view's hourly charts: tokens by type, requests, spend, success and error rate,
-- mean latency and throughput per local hour. Grain: grain ('hour') x period_start (the
-- instant the hour begins) x the filter columns in the held combinations ('*' = all),
-- with the hour's local label, UTC offset and local day (event_date). Pay-as-you-go
-- requests only; all figures exact from fct_usage_hourly's sums. Each build replaces the
-- local days it touches; hours older than the hourly retention are dropped.
with usage as (
    {{ pay_as_you_go_hourly_usage() }}
)

select
    grain,
    period_start,
    hour_label,
    utc_offset_minutes,
    event_date,
    {{ filter_columns() }},
    cast(sum(total_tokens) as bigint) as total_tokens,
    cast(sum(input_tokens) as bigint) as input_tokens,
    cast(sum(output_tokens) as bigint) as output_tokens,
    cast(sum(uncached_input_tokens) as bigint) as uncached_input_tokens,
    cast(sum(cached_input_tokens) as bigint) as cache_read_tokens,
    cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
    cast(sum(output_excl_reasoning_tokens) as bigint) as output_excl_reasoning_tokens,
    cast(sum(reasoning_tokens) as bigint) as reasoning_tokens,
    cast(sum(requests) as bigint) as requests,
    cast(sum(successful_requests) as bigint) as successful_requests,
    {{ ratio('sum(successful_requests)', 'sum(requests)') }} as success_rate,
    {{ ratio('sum(requests) - sum(successful_requests)', 'sum(requests)') }} as error_rate,
    {{ spend_figures() }},
    {{ ratio('sum(latency_ms_sum)', 'sum(latency_requests)') }} as avg_latency_ms,
    {{ ratio('sum(throughput_output_tokens)', 'sum(throughput_generation_seconds)') }} as avg_throughput_tps,
    current_timestamp as built_at
from usage
{{ group_by_filters(extra=['hour_label', 'utc_offset_minutes', 'event_date']) }}
