{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, headline figures. Grain: grain x period_start x api_key_id x model x
-- provider ('*' = all). Pay-as-you-go requests only; latency and throughput use
-- successful requests. The picks rank the models within each filter combination, from
-- that combination's own requests.
with by_filter as (
    select *
    from {{ ref('int_performance_by_filter') }}
    where {{ in_touched_periods() }}
),

-- The candidates of a filter are its rows with a real model: a row of model m is the
-- candidate m both in its own filter and in the all-models filter of the same key and
-- provider, with the figures of exactly the requests that candidate has there.
per_model as (
    select
        grain,
        period_start,
        api_key_id,
        model_filter as model,
        provider,
        model as candidate,
        successful_requests,
        avg_latency_ms,
        avg_throughput_tps
    from by_filter, unnest(['*', model]) as filters(model_filter)
    where model <> '*'
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
)

select
    {{ filter_key() }},
    by_filter.requests,
    by_filter.successful_requests,
    by_filter.avg_latency_ms,
    by_filter.avg_throughput_tps,
    by_filter.p50_throughput_tps as median_throughput_tps,
    picks.* exclude ({{ filter_key() }}),
    current_timestamp as built_at
from by_filter
inner join picks using ({{ filter_key() }})
