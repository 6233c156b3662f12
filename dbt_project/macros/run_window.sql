{#- What one run rebuilds. A run covers the landing days [min_date, max_date); its
    records can belong to other event days (late records), so the models rebuild every
    event day, week and month those records touch, and nothing else. -#}

{% macro in_landing_window(column='landing_date') -%}
    ({{ column }} >= cast('{{ var("min_date") }}' as date)
     and {{ column }} < cast('{{ var("max_date") }}' as date))
{%- endmacro %}

{#- Every event day holding a delivery of a request delivered in the window: a request
    delivered again with a corrected created_at moves to another day, and the day it
    leaves must be rebuilt too, or the request would be counted on both. -#}
{% macro touched_event_dates() -%}
    (select distinct event_date
       from {{ ref('stg_gateway__request_logs') }}
      where request_id in (
            select request_id
              from {{ ref('stg_gateway__request_logs') }}
             where {{ in_landing_window() }}))
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
