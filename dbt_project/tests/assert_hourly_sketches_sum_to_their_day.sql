{{ config(meta={'dagster': {'ref': {'name': 'fct_latency_sketch_hourly'}}}) }}
-- depends_on: {{ ref('fct_latency_sketch_daily') }}
-- depends_on: {{ ref('fct_requests') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}
-- docs/metrics.md, "Hours": fct_latency_sketch_hourly's hours of each local day = that day's sketch rows, bucket by bucket.
{{ hourly_sketches_sum_to_day() }}
