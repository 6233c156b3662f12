{{ config(unique_key='week_start') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: ISO week (Monday start, reporting time zone) x API key x model x provider x
-- billing mode. Sums of the daily fact.
select
    week_start,
    api_key_id,
    model,
    provider,
    billing_mode,
    {{ sum_usage_measures(from_request_grain=false) }},
    {{ latest_key_name(from_request_grain=false) }},
    current_timestamp as built_at
from {{ ref('fct_usage_daily') }}
{% if is_incremental() %}
where week_start in {{ touched_periods('week') }}
{% endif %}
group by all
