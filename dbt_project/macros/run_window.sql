{#- What one run rebuilds. A run covers the landing days [min_date, max_date); its
    records can belong to other event days (late records), so the models rebuild every
    event day, week and month those records touch, and nothing else. -#}

{% macro in_landing_window(column='landing_date') -%}
    ({{ column }} >= cast('{{ var("min_date") }}' as date)
     and {{ column }} < cast('{{ var("max_date") }}' as date))
{%- endmacro %}

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
