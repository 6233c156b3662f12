{{ config(meta={'dagster': {'ref': {'name': 'fct_usage_periods'}}}) }}
-- depends_on: {{ ref('fct_usage_daily') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}
-- docs/metrics.md invariant 2: fct_usage_periods' month rows = the sum of the daily rows of each month.
{{ days_sum_to_period('month') }}
