{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Usage tab, Caching: the gateway's own response cache and the providers' prompt cache.
-- Grain: grain x period_start x the filter columns ('*' = all; per model and per
-- provider are the rows with that filter set). Pay-as-you-go requests only.
--
-- Gateway cache hits (fct_requests.is_gateway_cache_hit) never reached a provider: their
-- share of all requests, and the cost they saved where the source reports it
-- (saved_cache_cost_usd, summed over gateway_cache_hits_with_saved_cost of them).
-- Prompt caching is over the requests that reached a provider (provider_requests):
-- by request, the share that read any token from the cache; token-weighted, cache-read
-- tokens over input tokens; and the tokens written to the cache.
with usage as (
    {{ pay_as_you_go_usage() }}
),

totals as (
    select
        grain,
        period_start,
        {{ filter_columns() }},
        cast(sum(requests) as bigint) as requests,
        cast(sum(gateway_cache_hits) as bigint) as gateway_cache_hits,
        cast(sum(saved_cache_cost_usd) as double) as saved_cache_cost_usd,
        cast(sum(gateway_cache_hits_with_saved_cost) as bigint) as gateway_cache_hits_with_saved_cost,
        cast(sum(requests) - sum(gateway_cache_hits) as bigint) as provider_requests,
        cast(sum(cache_read_requests) as bigint) as cache_read_requests,
        cast(sum(provider_input_tokens) as bigint) as input_tokens,
        cast(sum(provider_cache_read_tokens) as bigint) as cache_read_tokens,
        cast(sum(provider_cache_write_tokens) as bigint) as cache_write_tokens
    from usage
    {{ group_by_filters() }}
)

select
    *,
    {{ ratio('gateway_cache_hits', 'requests') }} as gateway_cache_hit_share,
    {{ ratio('cache_read_requests', 'provider_requests') }} as cache_read_request_rate,
    {{ ratio('cache_read_tokens', 'input_tokens') }} as cache_read_token_rate,
    current_timestamp as built_at
from totals
