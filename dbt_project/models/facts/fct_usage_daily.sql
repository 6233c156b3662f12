{{ config(unique_key='event_date') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: event day x API key x model x provider x billing mode (reporting time zone).
select
    event_date,
    {{ week_start('event_date') }} as week_start,
    {{ month_start('event_date') }} as month_start,
    api_key_id,
    model,
    provider,
    billing_mode,
    {{ sum_usage_measures(from_request_grain=true) }},
    {{ latest_key_name(from_request_grain=true) }},
    current_timestamp as built_at
from {{ ref('fct_requests') }}
{% if is_incremental() %}
where event_date in {{ touched_periods('day') }}
{% endif %}
group by all
