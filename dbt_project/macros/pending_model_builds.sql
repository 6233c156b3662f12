{#- Empties the part of raw.pending_model_builds this build caught up with, but only when
    the build rebuilt every model of the project: after a partial selection, a failed
    model or a skipped one, the facts and marts may still disagree for those days, so
    they stay queued and the next build rebuilds them. A build killed midway never gets
    here, which is the point. -#}
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
        {%- if missing | length == 0 -%}
            {#- Relations from the graph: a hook cannot ref() a model. -#}
            {%- set queue = graph.sources.values()
                    | selectattr('source_name', 'equalto', 'raw')
                    | selectattr('name', 'equalto', 'pending_model_builds') | first -%}
            {{ adapter.dispatch('remove_caught_up_builds', 'llm_usage')(
                   api.Relation.create(database=queue.database, schema=queue.schema,
                                       identifier=queue.identifier),
                   _model_relation('int_landing_days_in_build')) }}
        {%- elif rebuilt -%}
            {{ log("Landing days stay queued for the next build: " ~ missing | length
                   ~ " model(s) were not rebuilt", info=true) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro default__remove_caught_up_builds(queue, caught_up) -%}
            delete from {{ queue }} as queued
            where exists (
                select 1
                from {{ caught_up }} as caught_up
                where caught_up.landing_date = queued.landing_date
                  and caught_up.requested_at = queued.requested_at
            )
{%- endmacro %}

{#- On Spark the queue is a view over Parquet files, which have no DELETE: the build
    records what it caught up with, and the view leaves those requests out
    (macros/spark_raw_tables.sql). -#}
{% macro spark__remove_caught_up_builds(queue, caught_up) -%}
            insert into raw.model_builds_caught_up
            select landing_date, requested_at from {{ caught_up }}
{%- endmacro %}
