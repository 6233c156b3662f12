{{ config(unique_key='month_start') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: month (reporting time zone) x API key x model x provider x billing mode x measure x
-- bucket. The daily sketches of the period added up (macros/sketch.sql), so the
-- percentile marts read one histogram per combination and period instead of adding up
-- the period's days each, once per mart and night. Each build replaces the months it
-- touches.
{{ sketch_period_sums('month') }}
