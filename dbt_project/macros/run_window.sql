{#- What one build rebuilds. A build catches up with the landing days queued in
    raw.pending_model_builds (int_landing_days_in_build); their records can belong to
    other event days (late records), so the models rebuild every event day, week and month
    those records touch, and nothing else. -#}

{% macro touched_event_dates() -%}
    (select event_date from {{ ref('int_event_dates_touched_by_run') }})
{%- endmacro %}

{% macro touched_periods(grain) -%}
    {%- if grain == 'day' -%}
        {{ touched_event_dates() }}
    {%- elif grain == 'week' -%}
        (select distinct {{ week_start('event_date') }} from {{ touched_event_dates() }} as touched)
    {%- elif grain == 'month' -%}
        (select distinct {{ month_start('event_date') }} from {{ touched_event_dates() }} as touched)
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown grain " ~ grain) }}
    {%- endif -%}
{%- endmacro %}

{#- The rows of a model keyed by (grain, period_start) that belong to the periods this run
    touches: its days, weeks and months. `prefix` qualifies the columns ("t."). -#}
{% macro in_touched_grain_periods(prefix='') -%}
    (
        {%- for grain in reporting_grains() %}
        ({{ prefix }}grain = '{{ grain }}' and {{ prefix }}period_start in {{ touched_periods(grain) }}){{ " or" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- A cheap bound on a UTC instant column for the touched event days: a local day lies
    within one day either side of the same UTC day (UTC offsets run from -12 to +14
    hours), whatever the reporting time zone and its DST. Comparing raw instants with
    constants lets DuckDB skip old row groups by their min/max before it computes any
    event day in the reporting zone, so the scan does not grow with history. -#}
{% macro near_touched_event_dates(instant_column) -%}
    ({{ instant_column }} >= (select {{ utc_midnight(dbt.dateadd('day', -1, 'min(event_date)')) }}
                              from {{ ref('int_event_dates_touched_by_run') }})
     and {{ instant_column }} < (select {{ utc_midnight(dbt.dateadd('day', 2, 'max(event_date)')) }}
                                 from {{ ref('int_event_dates_touched_by_run') }}))
{%- endmacro %}
