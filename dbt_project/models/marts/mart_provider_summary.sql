{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Provider tab, headline figures. Grain: grain x period_start x api_key_id x model x
-- provider ('*' = all). Pay-as-you-go requests only. The picks rank the providers
-- within each filter combination, from that combination's own requests, all figures
-- exact from the usage facts' sums (no period reads its request rows again). requests,
-- successful_requests, success_rate, the primary provider and provider_count count the
-- requests that reached a provider: a gateway cache hit (fct_requests.is_gateway_cache_hit)
-- never did; it is in no latency figure either.
with usage as (
    select *, provider as candidate
    from ({{ pay_as_you_go_usage() }}) as by_grain
),

per_provider as (
    select
        grain,
        period_start,
        {{ filter_columns() }},
        candidate,
        sum(requests) - sum(gateway_cache_hits) as requests,
        sum(successful_requests) - sum(gateway_cache_hits) as successful_requests,
        sum(total_tokens) as total_tokens,
        {{ ratio('sum(latency_ms_sum)', 'sum(latency_requests)') }} as avg_latency_ms
    from usage
    {{ group_by_filters(extra=['candidate']) }}
)

select
    {{ filter_key() }},
    -- Most requests; ties broken by more total tokens, then name.
    -- NULL, and no provider counted, where gateway cache hits are all there is.
    {{ first_by('case when requests > 0 then candidate end', 'requests desc, total_tokens desc, candidate') }}
        as primary_provider,
    cast(sum(case when requests > 0 then 1 else 0 end) as bigint) as provider_count,
    cast(sum(requests) as bigint) as requests,
    cast(sum(successful_requests) as bigint) as successful_requests,
    {{ ratio('sum(successful_requests)', 'sum(requests)') }} as success_rate,
    {{ pick_ranked('candidate', 'avg_latency_ms', 'avg_latency_ms') }} as fastest_response_provider,
    {{ pick_ranked_value('candidate', 'avg_latency_ms', 'avg_latency_ms') }} as fastest_response_avg_latency_ms,
    current_timestamp as built_at
from per_provider
group by {{ filter_key() }}
