{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Provider tab, Errors by provider (stacked by class) and the error rate per period.
-- Grain: grain x period_start x the filter columns ('*' = all): per provider and per
-- model are the rows with that filter set, like every other mart. Pay-as-you-go requests
-- only; a filter with requests but no failures has a row of zeros. One count per error
-- class (macros/error_classes.sql), which add up to unsuccessful_requests exactly.
-- provider_requests: requests that reached a provider (all but the gateway cache hits,
-- which are successes), the denominator of error_rate, so that error_rate = 1 -
-- mart_provider_distribution.success_rate for the same provider and filter.
with usage as (
    {{ pay_as_you_go_usage() }}
),

totals as (
    select
        grain,
        period_start,
        {{ filter_columns() }},
        cast(sum(requests) as bigint) as requests,
        cast(sum(requests) - sum(gateway_cache_hits) as bigint) as provider_requests,
        cast(sum(requests) - sum(successful_requests) as bigint) as unsuccessful_requests,
        {%- for name in error_class_measures() %}
        cast(sum({{ name }}) as bigint) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from usage
    {{ group_by_filters() }}
)

select
    *,
    {{ ratio('unsuccessful_requests', 'provider_requests') }} as error_rate,
    current_timestamp as built_at
from totals
