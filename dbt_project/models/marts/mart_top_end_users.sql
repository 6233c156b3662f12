{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Usage tab, Top end users. Grain: grain x period_start x model x provider ('*' = all; the
-- other filter columns are '*' on every row: the end-user fact carries model and provider
-- only) x end_user_id: the var('top_end_users') (20) end users with the most spend (ties:
-- more tokens, then id), each with its rank, and the rest of the filter's end users as
-- one row, end_user_id '(other)' with a NULL rank and their count in `end_users`.
-- Requests without an end user rank as the end user '(none)'. Pay-as-you-go only.
{%- set available = ['model', 'provider'] %}
{%- set measures = breakdown_measures() %}
with usage as (
    {{ daily_rows_by_grain(ref('fct_end_user_usage_daily'), ['end_user_id'] + available + measures) }}
),

per_end_user as (
    select
        grain,
        period_start,
        {{ filter_columns(available=available) }},
        end_user_id,
        {%- for name in measures %}
        sum({{ name }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from usage
    {{ group_by_filters(extra=['end_user_id'], available=available) }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by {{ filter_key() }} order by spend_usd desc, total_tokens desc, end_user_id asc
        ) as spend_rank
    from per_end_user
),

top as (
    select
        {{ filter_key() }},
        case when spend_rank <= {{ var('top_end_users') }} then end_user_id else '(other)' end as end_user_id,
        case when spend_rank <= {{ var('top_end_users') }} then spend_rank end as spend_rank,
        count(*) as end_users,
        cast(sum(total_tokens) as bigint) as total_tokens,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(requests) as bigint) as requests,
        {{ spend_figures() }}
    from ranked
    group by
        {{ filter_key() }},
        case when spend_rank <= {{ var('top_end_users') }} then end_user_id else '(other)' end,
        case when spend_rank <= {{ var('top_end_users') }} then spend_rank end
)

select
    *,
    {{ share_within_filter('total_tokens', none) }} as token_share,
    {{ share_within_filter('requests', none) }} as request_share,
    {{ share_within_filter('spend_usd', none) }} as spend_share,
    current_timestamp as built_at
from top
