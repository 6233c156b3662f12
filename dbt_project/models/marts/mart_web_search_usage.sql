{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('stg_gateway__request_logs') }}

-- Usage tab, Web Search Usage. Grain: grain x period_start x api_key_id x model x
-- provider ('*' = all). Pay-as-you-go requests only; a filter with requests but no web
-- search has a row of zeros.
with usage as (
    {{ pay_as_you_go_usage() }}
),

totals as (
    select
        grain,
        period_start,
        {{ filter_columns() }},
        cast(sum(web_search_requests) as bigint) as web_search_requests,
        cast(sum(web_search_calls) as bigint) as web_search_calls,
        cast(sum(web_search_total_tokens) as bigint) as web_search_total_tokens,
        cast(sum(requests) as bigint) as requests
    from usage
    {{ group_by_filters() }}
)

select
    *,
    {{ ratio('web_search_requests', 'requests') }} as web_search_request_share,
    current_timestamp as built_at
from totals
