{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, headline figures. Grain: grain x period_start x api_key_id x model x
-- provider ('*' = all). Pay-as-you-go requests only; latency and throughput use the
-- successful requests in their figures (fct_requests.in_latency_figures,
-- in_throughput_figures); `requests` and `successful_requests` count them all. The picks rank the models within each filter combination, from
-- that combination's own requests.
--
-- Counts, means and picks come from the usage facts' sums (latency_ms_sum,
-- throughput_output_tokens, ...) and are exact. The median throughput is sketch-based
-- (within the sketch's relative error, macros/sketch.sql): for all models ('*') from the
-- throughput sketch facts, per model it is mart_throughput_by_model's p50. No figure
-- reads request rows.
with usage as (
    select *, model as candidate
    from ({{ pay_as_you_go_usage() }}) as by_grain
),

overall as (
    select
        grain,
        period_start,
        {{ filter_columns() }},
        cast(sum(requests) as bigint) as requests,
        cast(sum(successful_requests) as bigint) as successful_requests,
        {{ ratio('sum(latency_ms_sum)', 'sum(latency_requests)') }} as avg_latency_ms,
        {{ ratio('sum(throughput_output_tokens)', 'sum(throughput_generation_seconds)') }} as avg_throughput_tps
    from usage
    {{ group_by_filters() }}
),

per_model as (
    select
        grain,
        period_start,
        {{ filter_columns() }},
        candidate,
        -- The minimum sample of a pick counts the successes a provider served, not the
        -- gateway cache hits (which no latency or throughput figure holds).
        cast(sum(successful_requests) - sum(gateway_cache_hits) as bigint) as successful_requests,
        {{ ratio('sum(latency_ms_sum)', 'sum(latency_requests)') }} as avg_latency_ms,
        {{ ratio('sum(throughput_output_tokens)', 'sum(throughput_generation_seconds)') }} as avg_throughput_tps
    from usage
    {{ group_by_filters(extra=['candidate']) }}
),

picks as (
    select
        {{ filter_key() }},
        {{ pick_ranked('candidate', 'avg_latency_ms', 'avg_latency_ms') }} as fastest_model,
        {{ pick_ranked_value('candidate', 'avg_latency_ms', 'avg_latency_ms') }} as fastest_model_avg_latency_ms,
        {{ pick_ranked('candidate', 'avg_latency_ms desc', 'avg_latency_ms') }} as slowest_model,
        {{ pick_ranked_value('candidate', 'avg_latency_ms desc', 'avg_latency_ms') }} as slowest_model_avg_latency_ms,
        {{ pick_ranked('candidate', 'avg_throughput_tps desc', 'avg_throughput_tps') }} as highest_throughput_model,
        {{ pick_ranked_value('candidate', 'avg_throughput_tps desc', 'avg_throughput_tps') }} as highest_throughput_tps,
        {{ pick_ranked('candidate', 'avg_throughput_tps', 'avg_throughput_tps') }} as lowest_throughput_model,
        {{ pick_ranked_value('candidate', 'avg_throughput_tps', 'avg_throughput_tps') }} as lowest_throughput_tps
    from per_model
    group by {{ filter_key() }}
),

all_models_merged as (
    {{ merged_sketch('throughput_tps', model="'*'") }}
),

all_models_median as (
    {{ sketch_percentiles('all_models_merged', mart_key_columns(), [0.5], ['median_throughput_tps']) }}
),

medians as (
    select {{ filter_key() }}, median_throughput_tps
    from all_models_median
    union all
    select {{ filter_key() }}, p50_throughput_tps
    from {{ ref('mart_throughput_by_model') }}
    where {{ in_touched_periods() }}
)

select
    overall.*,
    medians.median_throughput_tps,
    {{ star_except('picks', filter_key()) }},
    current_timestamp as built_at
from overall
inner join picks using ({{ filter_key() }})
left join medians using ({{ filter_key() }})
