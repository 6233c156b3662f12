{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Performance tab, headline figures. Grain: grain x period_start x api_key_id x model x
-- provider ('*' = all). Pay-as-you-go requests only; latency and throughput use
-- successful requests. The picks rank the models within each filter combination, from
-- that combination's own requests.
with requests as (
    select *, model as candidate
    from ({{ pay_as_you_go_requests() }}) as by_grain
),

overall as (
    select
        grain,
        period_start,
        {{ filter_columns() }},
        count(*) as requests,
        count(*) filter (where is_success) as successful_requests,
        avg(latency_ms) filter (where is_success) as avg_latency_ms,
        {{ average_throughput() }} as avg_throughput_tps,
        {{ percentile('throughput_tps', 0.5) }} as median_throughput_tps
    from requests
    {{ group_by_filters() }}
),

per_model as (
    select
        grain,
        period_start,
        {{ filter_columns() }},
        candidate,
        count(*) filter (where is_success) as successful_requests,
        avg(latency_ms) filter (where is_success) as avg_latency_ms,
        {{ average_throughput() }} as avg_throughput_tps
    from requests
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
)

select
    overall.*,
    picks.* exclude ({{ filter_key() }}),
    current_timestamp as built_at
from overall
inner join picks using ({{ filter_key() }})
