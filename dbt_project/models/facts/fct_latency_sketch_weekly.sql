{{ config(unique_key='week_start') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: ISO week (Monday start, reporting time zone) x API key x model x provider x billing mode x measure x
-- bucket. The daily sketches of the period added up (bucket counts add exactly), so
-- the percentile marts read one histogram per combination and period instead of
-- adding up the period's days each, once per mart and night. Each build replaces the
-- weeks it touches.
select
    week_start,
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
where week_start in {{ touched_periods('week') }}
{% endif %}
group by week_start, api_key_id, model, provider, billing_mode, measure, bucket
