{{ config(meta={'dagster': {'ref': {'name': 'fct_usage_hourly'}}}) }}
-- depends_on: {{ ref('fct_usage_daily') }}
-- depends_on: {{ ref('fct_requests') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}
-- docs/metrics.md, "Hours": fct_usage_hourly's hours of each local day = that day's fct_usage_daily rows.
{{ hours_sum_to_day() }}
