{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Provider tab, Top error types: the source's own error types (error_type, '(none)'
-- where a failure gives none) with their class and count. Grain: grain x period_start x
-- model x provider ('*' = all; the other filter columns are '*' on every row: the
-- error-type fact carries model and provider only) x error_class x error_type: the
-- var('top_error_types') (10) types with the most failures (ties: class, then type),
-- ranked, and the rest of the filter's failures as one row, error_type '(other)' with a
-- NULL class and rank and the number of types in `error_types`. Pay-as-you-go only; a
-- filter without failures has no row.
{%- set available = ['model', 'provider'] %}
with failures as (
    {{ daily_rows_by_grain(ref('fct_error_types_daily'), ['error_class', 'error_type', 'errors'] + available) }}
),

per_type as (
    select
        grain,
        period_start,
        {{ filter_columns(available=available) }},
        error_class,
        error_type,
        sum(errors) as errors
    from failures
    {{ group_by_filters(extra=['error_class', 'error_type'], available=available) }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by {{ filter_key() }} order by errors desc, error_class asc, error_type asc
        ) as error_rank
    from per_type
),

top as (
    select
        {{ filter_key() }},
        case when error_rank <= {{ var('top_error_types') }} then error_class end as error_class,
        case when error_rank <= {{ var('top_error_types') }} then error_type else '(other)' end as error_type,
        case when error_rank <= {{ var('top_error_types') }} then error_rank end as error_rank,
        count(*) as error_types,
        cast(sum(errors) as bigint) as errors
    from ranked
    group by
        {{ filter_key() }},
        case when error_rank <= {{ var('top_error_types') }} then error_class end,
        case when error_rank <= {{ var('top_error_types') }} then error_type else '(other)' end,
        case when error_rank <= {{ var('top_error_types') }} then error_rank end
)

select
    *,
    {{ share_within_filter('errors', none) }} as error_share,
    current_timestamp as built_at
from top
