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
            delete from {{ api.Relation.create(database=queue.database, schema=queue.schema,
                                               identifier=queue.identifier) }} as queued
            where exists (
                select 1
                from {{ _model_relation('int_landing_days_in_build') }} as caught_up
                where caught_up.landing_date = queued.landing_date
                  and caught_up.requested_at = queued.requested_at
            )
        {%- elif rebuilt -%}
            {{ log("Landing days stay queued for the next build: " ~ missing | length
                   ~ " model(s) were not rebuilt", info=true) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
