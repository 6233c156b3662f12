{#- What a data test checks on a nightly build. A test on a table that grows with history
    (raw, staging, fct_requests) names the part it checks in its `where` config with a
    placeholder, so that the nightly cost does not grow with history:

      __landing_days_in_build__  the landing days this build caught up with
      __event_dates_in_build__   the event days this build rebuilt
      __periods_in_build__       the (grain, period_start) pairs of the marts this build
                                 rebuilt: the touched days, weeks and months

    The first build queues every loaded day, so it checks everything; a --full-refresh
    checks everything too, and so does `--vars '{test_scope: all}'`, which the weekly
    audit passes: it runs every test over all of history, the tests tagged full_history
    (too slow for the nightly build, which leaves them out) included.
    dbt calls this macro for every test with a `where` config (it overrides dbt's own). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where or not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- if not tests_limited_to_build() -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set where = where
            | replace('__landing_days_in_build__',
                      '(select landing_date from ' ~ _model_relation('int_landing_days_in_build') ~ ')')
            | replace('__event_dates_in_build__',
                      '(select event_date from ' ~ _model_relation('int_event_dates_touched_by_run') ~ ')')
            | replace('__periods_in_build__', _touched_keys(['grain', 'period_start'])) -%}
    {{ return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') }}
{%- endmacro %}

{#- A model's relation from the graph, for the places that cannot ref() it: a test's
    `where` (ref would make the model a parent of the test) and the on-run-end hook. -#}
{% macro _model_relation(name) -%}
    {%- set node = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
            | selectattr('name', 'equalto', name) | first -%}
    {{- return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) -}}
{%- endmacro %}

{#- The same scope for singular tests over fct_requests: a predicate on its event day. -#}
{% macro event_date_in_build(column='event_date') -%}
    {%- if not tests_limited_to_build() -%}
        true
    {%- else -%}
        {{ column }} in {{ touched_event_dates() }}
    {%- endif -%}
{%- endmacro %}

{#- The same scope for singular tests over a mart: a predicate on its grain and period. -#}
{% macro period_in_build(table_alias=none) -%}
    {%- set prefix = table_alias ~ '.' if table_alias else '' -%}
    {%- if not tests_limited_to_build() -%}
        true
    {%- else -%}
        {{ in_touched_grain_periods(prefix) }}
    {%- endif -%}
{%- endmacro %}

{% macro tests_limited_to_build() -%}
    {#- A build under a changed reporting zone rebuilds everything, so it checks everything. -#}
    {{ return(not flags.FULL_REFRESH and var('test_scope') != 'all'
              and not reporting_zone_changed()) }}
{%- endmacro %}
