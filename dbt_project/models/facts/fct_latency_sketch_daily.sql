{{ config(unique_key='event_date') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: event day x the low-cardinality dimensions (fact_dimensions(): api_key_id,
-- model, provider, ...) x billing mode x measure x bucket (see macros/sketch.sql). `requests` counts the measure's values that fall in the bucket and
-- `value_sum` adds them up, so any set of days and filters adds its rows into one
-- histogram (percentiles within the sketch's relative error) and one exact mean. Each
-- build replaces the event days it touches, from those days' requests only; nothing
-- later reads the requests again.
with measured as (
    {%- for measure, (value, population) in sketch_measures().items() %}
    select
        event_date,
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
    {%- if is_incremental() %}
      and event_date in {{ touched_periods('day') }}
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
)

select
    event_date,
    {{ week_start('event_date') }} as week_start,
    {{ month_start('event_date') }} as month_start,
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
