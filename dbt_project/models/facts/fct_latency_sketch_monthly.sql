{{ config(unique_key='month_start') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: month (reporting time zone) x API key x model x provider x billing mode x measure x
-- bucket. The daily sketches of the period added up (bucket counts add exactly), so
-- the percentile marts read one histogram per combination and period instead of
-- adding up the period's days each, once per mart and night. Each build replaces the
-- months it touches.
select
    month_start,
    api_key_id,
    model,
    provider,
    billing_mode,
    measure,
    bucket,
    cast(sum(requests) as {{ sketch_count_type() }}) as requests,
    sum(value_sum) as value_sum,
    current_timestamp as built_at
from {{ ref('fct_latency_sketch_daily') }}
{% if is_incremental() %}
where month_start in {{ touched_periods('month') }}
{% endif %}
group by month_start, api_key_id, model, provider, billing_mode, measure, bucket
