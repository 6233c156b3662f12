{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Usage tab, Usage by API Key. Grain: grain x period_start x api_key_id (real values) x
-- model x provider ('*' = all). Pay-as-you-go requests only.
with usage as (
    {{ pay_as_you_go_usage() }}
),

per_key as (
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='api_key_id') }},
        -- The name the key carried on its latest request in the period.
        max_by(api_key_name, last_request_at) as api_key_name,
        cast(sum(total_tokens) as bigint) as total_tokens,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(requests) as bigint) as requests,
        {{ spend_figures() }}
    from usage
    {{ group_by_filters(breakdown='api_key_id') }}
)

select
    *,
    {{ share_within_filter('total_tokens', 'api_key_id') }} as token_share,
    {{ share_within_filter('requests', 'api_key_id') }} as request_share,
    {{ share_within_filter('spend_usd', 'api_key_id') }} as spend_share,
    current_timestamp as built_at
from per_key
