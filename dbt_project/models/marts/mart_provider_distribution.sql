{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Provider tab, Token Distribution and Request Distribution, with each provider's
-- success rate. Grain: grain x period_start x provider (real values) x api_key_id x
-- model ('*' = all). Pay-as-you-go requests only. requests, successful_requests,
-- request_share and success_rate count the requests that reached the provider: a gateway
-- cache hit (fct_requests.is_gateway_cache_hit) never did, and is counted apart in
-- gateway_cache_hits; tokens and spend are all the provider's as the gateway reported them.
with usage as (
    {{ pay_as_you_go_usage() }}
),

per_provider as (
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='provider') }},
        cast(sum(total_tokens) as bigint) as total_tokens,
        cast(sum(requests) - sum(gateway_cache_hits) as bigint) as requests,
        cast(sum(successful_requests) - sum(gateway_cache_hits) as bigint) as successful_requests,
        {{ spend_figures() }},
        cast(sum(gateway_cache_hits) as bigint) as gateway_cache_hits
    from usage
    {{ group_by_filters(breakdown='provider') }}
)

select
    {{ star_except('per_provider', ['gateway_cache_hits']) }},
    {{ share_within_filter('total_tokens', 'provider') }} as token_share,
    {{ share_within_filter('requests', 'provider') }} as request_share,
    {{ share_within_filter('spend_usd', 'provider') }} as spend_share,
    {{ ratio('successful_requests', 'requests') }} as success_rate,
    current_timestamp as built_at,
    per_provider.gateway_cache_hits
from per_provider
