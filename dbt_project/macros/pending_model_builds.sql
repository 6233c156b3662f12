{#- Empties the part of raw.pending_model_builds this build caught up with, but only when
    the build rebuilt every model of the project and no data test failed or errored:
    after a partial selection, a failed or skipped model, or a failing test (a mart with
    two '*' rows, say), the facts and marts may still be wrong for those days, so they
    stay queued and the next build rebuilds them. A build killed midway never gets here,
    which is the point. The same build clears the replaced deliveries it read and
    records the reporting time zone it built with (reporting_zone_changed()). -#}
{% macro finish_pending_model_builds(results) -%}
    {%- if execute -%}
        {%- set models = graph.nodes.values()
                | selectattr('resource_type', 'equalto', 'model')
                | map(attribute='unique_id') | list -%}
        {%- set rebuilt = results
                | selectattr('node.resource_type', 'equalto', 'model')
                | selectattr('status', 'equalto', 'success')
                | map(attribute='node.unique_id') | list -%}
        {%- set missing = models | reject('in', rebuilt) | list -%}
        {#- 'warn' is a warning-severity test that found rows: shown, never blocking;
            'no-op' is a node with nothing to run (an exposure, say). -#}
        {%- set failed = results
                | rejectattr('status', 'in', ['success', 'pass', 'warn', 'no-op'])
                | map(attribute='node.unique_id') | list -%}
        {%- if missing | length == 0 and failed | length == 0 -%}
            {#- Relations from the graph: a hook cannot ref() a model. -#}
            {{ adapter.dispatch('clear_caught_up_builds', 'llm_usage')(
                   _model_relation('int_landing_days_in_build')) }}
        {%- elif rebuilt or failed -%}
            {{ log("Landing days stay queued for the next build: " ~ missing | length
                   ~ " model(s) were not rebuilt, " ~ failed | length
                   ~ " node(s) failed or were skipped", info=true) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- What a build that caught up with `caught_up` (int_landing_days_in_build) clears:
    the replaced deliveries it read and its queue entries; then the zone it built with. -#}
{% macro default__clear_caught_up_builds(caught_up) -%}
            delete from {{ _raw_relation('replaced_deliveries') }} as replaced
            where exists (
                select 1
                from {{ caught_up }} as caught_up
                where caught_up.landing_date = replaced.landing_date
                  and replaced.replaced_at <= caught_up.requested_at
            );
            delete from {{ _raw_relation('pending_model_builds') }} as queued
            where exists (
                select 1
                from {{ caught_up }} as caught_up
                where caught_up.landing_date = queued.landing_date
                  and caught_up.requested_at = queued.requested_at
            );
            {{ record_reporting_zone() }}
{%- endmacro %}

{#- On Spark the queue and the replaced deliveries are views over Parquet files, which
    have no DELETE: the build records what it caught up with, and both views leave out
    what that clears (macros/spark_raw_tables.sql). One statement per query: a Spark
    session runs one at a time. -#}
{% macro spark__clear_caught_up_builds(caught_up) -%}
    {%- do run_query('insert into raw.model_builds_caught_up select landing_date, requested_at from '
                     ~ caught_up) -%}
    {%- do run_query(record_reporting_zone()) -%}
{%- endmacro %}

{% macro _raw_relation(name) -%}
    {%- set table = graph.sources.values()
            | selectattr('source_name', 'equalto', 'raw')
            | selectattr('name', 'equalto', name) | first -%}
    {{- return(api.Relation.create(database=table.database, schema=table.schema,
                                   identifier=table.identifier)) -}}
{%- endmacro %}
