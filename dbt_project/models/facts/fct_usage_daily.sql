{{ config(unique_key='event_date') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: event day (reporting time zone) x the low-cardinality dimensions (api_key_id,
-- model, provider, ...: fact_dimensions(), from the declaration in dbt_project.yml) x
-- billing mode, with each dimension's latest display name.
select
    event_date,
    {{ week_start('event_date') }} as week_start,
    {{ month_start('event_date') }} as month_start,
    {%- for column in fact_dimensions() %}
    {{ column }},
    {%- endfor %}
    billing_mode,
    {{ sum_usage_measures(from_request_grain=true) }},
    {{ latest_names(from_request_grain=true) }},
    current_timestamp as built_at
from {{ ref('fct_requests') }}
{% if is_incremental() %}
where event_date in {{ touched_periods('day') }}
{% endif %}
group by all
