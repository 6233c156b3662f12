{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: grain (week, month) x period_start x the low-cardinality dimensions (fact_dimensions()) x billing mode x
-- measure x bucket. The daily sketches of each week and month added up (bucket counts
-- and value sums add exactly; macros/sketch.sql), so the percentile marts read one
-- histogram per combination and period instead of adding up the period's days, once per
-- mart and night. Each build replaces the weeks and months it touches.
select
    grains.grain,
    case grains.grain when 'week' then daily.week_start else daily.month_start end as period_start,
    {%- for column in fact_dimensions() %}
    daily.{{ column }},
    {%- endfor %}
    daily.billing_mode,
    daily.measure,
    daily.bucket,
    cast(sum(daily.requests) as {{ sketch_count_type() }}) as requests,
    sum(daily.value_sum) as value_sum,
    current_timestamp as built_at
from {{ ref('fct_latency_sketch_daily') }} as daily
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
