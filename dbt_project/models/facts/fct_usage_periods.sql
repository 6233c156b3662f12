{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: grain (week: ISO week, Monday start; month: calendar month; both in the
-- reporting time zone) x period_start x the low-cardinality dimensions (fact_dimensions()) x billing mode. Sums
-- of the daily fact: each daily row counts once in its week and once in its month. Each
-- build replaces the weeks and months it touches.
select
    grains.grain,
    case grains.grain when 'week' then daily.week_start else daily.month_start end as period_start,
    {%- for column in fact_dimensions() %}
    daily.{{ column }},
    {%- endfor %}
    daily.billing_mode,
    {{ sum_usage_measures(from_request_grain=false) }},
    {{ latest_names(from_request_grain=false) }},
    current_timestamp as built_at
from {{ ref('fct_usage_daily') }} as daily
cross join (
    select 'week' as grain
    union all
    select 'month' as grain
) as grains
{% if is_incremental() %}
where (grains.grain = 'week' and daily.week_start in {{ touched_periods('week') }})
   or (grains.grain = 'month' and daily.month_start in {{ touched_periods('month') }})
{% endif %}
group by all
