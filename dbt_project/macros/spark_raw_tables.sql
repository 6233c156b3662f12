{#- The raw tables on Spark: Parquet files that ingest writes under the lake directory
    (ingest/lake.py), one folder per table and one partition folder per landing day
    (`landing_date=YYYY-MM-DD`), which ingest replaces whole to reload a day. Here the
    catalog learns of them, at the start of every build; on DuckDB, ingest creates its
    tables itself and there is nothing to do.

    Their columns are not written here: Spark reads them from the Parquet file of no rows
    that ingest writes for each table (`raw/_columns/<table>.parquet`) from the
    warehouse's DDL (ingest/raw_tables.py), which derives raw.request_logs from the
    contract's JSON Schema. Only the tables' names are listed; tests/test_lake.py checks
    them against ingest/lake.py's LAKE_FOLDERS. -#}

{% macro spark_raw_tables() -%}
    {{ return([
        'request_logs', 'request_logs_rejected', 'ingested_files', 'quality_holds',
        'model_build_requests', 'replaced_delivery_records', 'quarantined_records',
    ]) }}
{%- endmacro %}

{#- A raw table's columns as Spark reads them from ingest's Parquet file, in a column
    list for CREATE TABLE ("name type, ..."). -#}
{% macro spark_raw_columns(lake, name) -%}
    {%- set described = run_query('describe query select * from parquet.`' ~ lake ~ '/_columns/'
            ~ name ~ '.parquet`') -%}
    {%- set columns = [] -%}
    {%- for row in described.rows -%}
        {%- do columns.append('`' ~ row[0] ~ '` ' ~ row[1]) -%}
    {%- endfor -%}
    {{ return(columns | join(', ')) }}
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
        {%- for name in spark_raw_tables() -%}
            {#- Declared afresh each build, so that columns added to ingest's tables
                reach Spark; the table is external (its location is the lake's folder),
                so dropping it leaves its files. -#}
            {%- set columns = spark_raw_columns(lake, name) -%}
            {%- do run_query('drop table if exists raw.' ~ name) -%}
            {%- do run_query('create table raw.' ~ name ~ ' (' ~ columns
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
