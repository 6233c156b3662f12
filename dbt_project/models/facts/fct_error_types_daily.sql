{{ config(unique_key='event_date') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: event day (reporting time zone) x error_class x error_type x model x provider x
-- billing mode, unsuccessful requests only. The source's own error type (error_type,
-- '(none)' where the record gives none) has as many values as sources invent, so it is
-- no filter of the marts: this fact feeds mart_top_error_types (the top N per period).
select
    event_date,
    week_start,
    month_start,
    error_class,
    coalesce(error_type, {{ no_dimension_value() }}) as error_type,
    model,
    provider,
    billing_mode,
    cast(count(*) as bigint) as errors,
    current_timestamp as built_at
from {{ ref('fct_requests') }}
where not is_success
{% if is_incremental() %}
  and event_date in {{ touched_periods('day') }}
{% endif %}
group by all
