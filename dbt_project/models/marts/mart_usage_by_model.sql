{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Usage tab, Usage by Model. Grain: grain x period_start x model (real values) x
-- api_key_id x provider ('*' = all). Pay-as-you-go requests only.
with usage as (
    {{ pay_as_you_go_usage() }}
),

per_model as (
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='model') }},
        cast(sum(total_tokens) as bigint) as total_tokens,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(requests) as bigint) as requests,
        {{ spend_figures() }}
    from usage
    {{ group_by_filters(breakdown='model') }}
)

select
    *,
    {{ share_within_filter('total_tokens', 'model') }} as token_share,
    {{ share_within_filter('spend_usd', 'model') }} as spend_share,
    current_timestamp as built_at
from per_model
