{{ config(unique_key='month_start') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: calendar month (reporting time zone) x API key x model x provider x billing
-- mode. Sums of the daily fact.
select
    month_start,
    api_key_id,
    model,
    provider,
    billing_mode,
    {{ sum_usage_measures(from_request_grain=false) }},
    {{ latest_key_name(from_request_grain=false) }},
    current_timestamp as built_at
from {{ ref('fct_usage_daily') }}
{% if is_incremental() %}
where month_start in {{ touched_periods('month') }}
{% endif %}
group by all
