{{ config(
    unique_key='event_date',
    pre_hook="{{ build_day_by_day(latency_by_hour_rows, ref('fct_latency_sketch_hourly')) }}",
    post_hook=["{{ drop_expired_hours() }}", "{{ drop_day_by_day_scratch() }}"]
) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}
-- depends_on: {{ ref('fct_requests') }}
-- depends_on: {{ ref('fct_latency_sketch_hourly') }}

-- The Day view's hourly latency chart: per local hour and held filter combination, the
-- p50 / p90 / p99 latency and first-token latency and their exact means. The statement
-- is macros/latency_by_hour.sql's, run one local day at a time by the pre-hook into a
-- scratch table (macros/day_by_day.sql: one statement over a month of hours does not fit
-- in memory at a million requests a day); this selects what it built.
select * from {{ day_by_day_scratch() }}
