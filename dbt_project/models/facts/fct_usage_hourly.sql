{{ config(unique_key='event_date', post_hook="{{ drop_expired_hours() }}") }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: hour in the reporting time zone (hour_start, the instant it begins) x the
-- low-cardinality dimensions (fact_dimensions()) x billing mode, with the hour's local
-- label, UTC offset and local day (event_date), and each dimension's latest display
-- name. The measures of fct_usage_daily (usage_measures()), summed per hour: the hours
-- of each local day add up to its daily rows exactly (tests/assert_hours_sum_to_their_day.sql).
-- Each build replaces the event days it touches; days older than the hourly retention
-- (first_hourly_day()) are neither built nor kept.
with hours as (
    select
        *,
        {{ reporting_hour_start('created_at') }} as hour_start,
        {{ reporting_hour_label('created_at') }} as hour_label
    from {{ ref('fct_requests') }}
    where event_date >= {{ first_hourly_day() }}
    {%- if is_incremental() %}
      and event_date in {{ touched_periods('day') }}
    {%- endif %}
)

select
    event_date,
    hour_start,
    hour_label,
    {{ reporting_hour_offset_minutes('hour_label', 'hour_start') }} as utc_offset_minutes,
    {%- for column in fact_dimensions() %}
    {{ column }},
    {%- endfor %}
    billing_mode,
    {{ sum_usage_measures(from_request_grain=true) }},
    {{ latest_names(from_request_grain=true) }},
    current_timestamp as built_at
from hours
group by all
