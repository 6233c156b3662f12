{{ config(unique_key='event_date', post_hook="{{ drop_expired_hours() }}") }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: hour in the reporting time zone (hour_start, the instant it begins; with its
-- local label, UTC offset and local day) x the low-cardinality dimensions
-- (fact_dimensions()) x billing mode x measure x bucket: the latency sketches of
-- fct_latency_sketch_daily per local hour, same buckets (macros/sketch.sql), so the
-- hours of a day add up to its daily sketch exactly
-- (tests/assert_hourly_sketches_sum_to_their_day.sql). Each build replaces the event days
-- it touches; days older than the hourly retention are neither built nor kept.
with measured as (
    {%- for measure, (value, population) in sketch_measures().items() %}
    select
        event_date,
        {{ reporting_hour_start('created_at') }} as hour_start,
        {{ reporting_hour_label('created_at') }} as hour_label,
        {%- for column in fact_dimensions() %}
        {{ column }},
        {%- endfor %}
        billing_mode,
        '{{ measure }}' as measure,
        {{ sketch_bucket(value) }} as bucket,
        -- `value` is a keyword, but the sketch macros read a column of that name.
        cast({{ value }} as double) as value  -- noqa: RF04
    from {{ ref('fct_requests') }}
    where {{ population }}
      and event_date >= {{ first_hourly_day() }}
    {%- if is_incremental() %}
      and event_date in {{ touched_periods('day') }}
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
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
    measure,
    bucket,
    cast(count(*) as {{ sketch_count_type() }}) as requests,
    sum(value) as value_sum,
    current_timestamp as built_at
from measured
group by all
