{{ config(unique_key='event_date') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: event day (reporting time zone) x end_user_id x model x provider x billing mode.
-- The end user (the operator's own customer, '(none)' where the log names none) has
-- thousands of values, so it is no filter of the marts: this fact feeds
-- mart_top_end_users (the top N per period, the rest as one row). Tokens, requests and
-- spend only.
select
    event_date,
    week_start,
    month_start,
    end_user_id,
    model,
    provider,
    billing_mode,
    {{ sum_usage_measures(from_request_grain=true, names=breakdown_measures()) }},
    current_timestamp as built_at
from {{ ref('fct_requests') }}
{% if is_incremental() %}
where event_date in {{ touched_periods('day') }}
{% endif %}
group by all
