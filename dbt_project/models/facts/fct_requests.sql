{{ config(unique_key='event_date') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: one row per request (request_id), de-duplicated, keyed by its event day in the
-- reporting time zone. Each build replaces whole event days: every day that records of
-- its queued landing days fall on (int_event_dates_touched_by_run), with the requests
-- whose latest surviving delivery, across every landing day, falls on them.

{% if is_incremental() %}
with requests_on_touched_days as (
    -- Requests with a delivery on a rebuilt day. Their latest delivery may lie on another
    -- day (a correction moved the request): it is found among all their deliveries
    -- below, so an older delivery never keeps the request on its old day as well.
    select distinct request_id
    from {{ ref('stg_gateway__request_logs') }}
    where {{ near_touched_event_dates('created_at') }}
      and event_date in {{ touched_event_dates() }}
),

delivered as (
    -- Staged from raw after the request filter, not read through the view: through the
    -- view every delivery in history would be staged first (macros/staging.sql).
    {{ staged_request_logs('request_id in (select request_id from requests_on_touched_days)') | indent(4) }}
),
{% else %}
with delivered as (
    select * from {{ ref('stg_gateway__request_logs') }}
),
{% endif %}

latest_delivery as (
    -- A request delivered more than once keeps its latest delivery: the latest landing
    -- day, then the last file and line in it.
    select
        *,
        count(*) over (partition by request_id) as deliveries
    from delivered
    qualify row_number() over (
        partition by request_id
        order by landing_date desc, source_file desc, line_number desc
    ) = 1
),

timed as (
    select
        *,
        {{ generation_ms() }} as generation_ms
    from latest_delivery
    {% if is_incremental() %}
    where event_date in {{ touched_event_dates() }}
    {% endif %}
),

derived as (
    select
        *,
        {{ throughput_tps() }} as throughput_tps
    from timed
)

select
    request_id,
    event_date,
    {{ week_start('event_date') }} as week_start,
    {{ month_start('event_date') }} as month_start,
    created_at,
    landing_date,
    deliveries,
    {%- for column in dimension_columns() %}
    {{ column }},
    {%- endfor %}
    billing_mode,
    status,
    status = 'success' as is_success,
    http_status,
    error_type,
    finish_reason,
    stream,
    input_tokens,
    output_tokens,
    input_tokens + output_tokens as total_tokens,
    cached_input_tokens,
    cache_write_tokens,
    input_tokens - cached_input_tokens - cache_write_tokens as uncached_input_tokens,
    reasoning_tokens,
    output_tokens - reasoning_tokens as output_excl_reasoning_tokens,
    web_search_calls,
    latency_ms,
    first_token_ms,
    generation_ms,
    throughput_tps,
    -- Which performance figures the request feeds (macros/derived_fields.sql): one with
    -- an implausible timing keeps its tokens, requests and spend in every sum and is left
    -- out of the figures that timing would distort, against the same ceilings the raw
    -- checks use (macros/quality_thresholds.sql).
    {{ in_latency_figures(dq_threshold('max_latency_ms')) }} as in_latency_figures,
    {{ in_first_token_figures() }} as in_first_token_figures,
    {{ in_throughput_figures(dq_threshold('max_latency_ms'), dq_threshold('max_throughput_tps')) }}
        as in_throughput_figures,
    cost_usd,
    current_timestamp as built_at,
    -- Why it failed (macros/error_classes.sql); NULL for a success.
    {{ error_class() }} as error_class,
    served_from_cache,
    -- Answered from the gateway's response cache (macros/derived_fields.sql): out of every
    -- provider and performance figure, in requests, tokens and spend.
    {{ gateway_cache_hit() }} as is_gateway_cache_hit,
    saved_cache_cost_usd
from derived
