{#- The raw tables on Spark: Parquet files that ingest writes under the lake directory
    (ingest/lake.py), one folder per table and one partition folder per landing day
    (`landing_date=YYYY-MM-DD`), which ingest replaces whole to reload a day. Here the
    catalog learns of them, at the start of every build; on DuckDB, ingest creates its
    tables itself and there is nothing to do.

    The column types are those of ingest/warehouse.py's DDL in Spark's names;
    tests/test_spark.py checks that the two agree. -#}

{% macro spark_raw_tables() -%}
    {{ return({
        'request_logs': 'source_file string, line_number bigint, request_id string, created_at timestamp,
            api_key_id string, api_key_name string, model string, provider string, billing_mode string,
            status string, http_status int, error_type string, finish_reason string, stream boolean,
            input_tokens bigint, output_tokens bigint, cached_input_tokens bigint,
            cache_write_tokens bigint, reasoning_tokens bigint, web_search_calls bigint,
            latency_ms double, first_token_ms double, cost_usd double, schema_version bigint,
            ingested_at timestamp',
        'request_logs_rejected': 'source_file string, line_number bigint, raw_line string, reason string,
            ingested_at timestamp',
        'ingested_files': 'path string, size_bytes bigint, modified_at timestamp, sha256 string,
            rows_loaded bigint, rows_rejected bigint, error string, ingested_at timestamp,
            lines_read bigint',
        'quality_holds': 'failed_checks string, held_at timestamp',
        'model_build_requests': 'requested_by string, requested_at timestamp',
        'replaced_delivery_records': 'request_id string, created_at timestamp, replaced_at timestamp',
        'quarantined_records': 'source_file string, line_number bigint, request_id string, reason string,
            quarantined_at timestamp',
    }) }}
{%- endmacro %}

{% macro register_raw_tables() -%}
    {{ return(adapter.dispatch('register_raw_tables', 'llm_usage')()) }}
{%- endmacro %}

{% macro default__register_raw_tables() -%}
{%- endmacro %}

{% macro spark__register_raw_tables() -%}
    {%- if execute -%}
        {%- set lake = env_var('LLM_USAGE_LAKE_DIR', '../data/lake') ~ '/raw' -%}
        {%- do run_query('create database if not exists raw') -%}
        {%- for name, columns in spark_raw_tables().items() -%}
            {%- do run_query('create table if not exists raw.' ~ name ~ ' (' ~ columns
                    ~ ', landing_date date) using parquet partitioned by (landing_date)'
                    ~ " location '" ~ lake ~ '/' ~ name ~ "'") -%}
            {#- Partitions are found in the files (spark.sql.hive.manageFilesourcePartitions
                is off), and this lists them afresh. -#}
            {%- do run_query('refresh table raw.' ~ name) -%}
        {%- endfor -%}
        {#- A build that caught up appends what it caught up with here (Parquet files
            have no DELETE); the queue is the requests not caught up with. -#}
        {%- do run_query('create table if not exists raw.model_builds_caught_up'
                ~ ' (landing_date date, requested_at timestamp) using parquet'
                ~ " location '" ~ lake ~ "/model_builds_caught_up'") -%}
        {%- do run_query('refresh table raw.model_builds_caught_up') -%}
        {#- The reporting zone of the last complete build (macros/reporting_time.sql),
            one row that each such build overwrites. -#}
        {%- do run_query('create table if not exists raw.model_build_settings'
                ~ ' (reporting_timezone string, recorded_at timestamp) using parquet'
                ~ " location '" ~ lake ~ "/model_build_settings'") -%}
        {%- do run_query('refresh table raw.model_build_settings') -%}
        {#- Replaced deliveries count until a build caught up with a request of their
            landing day made after they were replaced (the DELETE of
            default__clear_caught_up_builds). -#}
        {%- do run_query('create or replace view raw.replaced_deliveries as '
                ~ 'select landing_date, request_id, created_at, replaced_at '
                ~ 'from raw.replaced_delivery_records as replaced '
                ~ 'where not exists (select 1 from raw.model_builds_caught_up as caught_up '
                ~ 'where caught_up.landing_date = replaced.landing_date '
                ~ 'and replaced.replaced_at <= caught_up.requested_at)') -%}
        {%- do run_query('create or replace view raw.pending_model_builds as '
                ~ 'select landing_date, requested_by, requested_at from raw.model_build_requests as queued '
                ~ 'where not exists (select 1 from raw.model_builds_caught_up as caught_up '
                ~ 'where caught_up.landing_date = queued.landing_date '
                ~ 'and caught_up.requested_at = queued.requested_at)') -%}
    {%- endif -%}
{%- endmacro %}
