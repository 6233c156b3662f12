{#- Reporting calendar: which local day, ISO week and month a timestamp belongs to.
    The zone is one setting (LLM_USAGE_REPORTING_TIMEZONE, default UTC). Changing it
    re-buckets history, so run a full refresh afterwards. The dialect-specific part lives
    here only, behind adapter.dispatch, so the models stay portable. -#}

{% macro reporting_timezone() -%}
    {%- set zone = env_var('LLM_USAGE_REPORTING_TIMEZONE', 'UTC') -%}
    {%- if not modules.re.match('^[A-Za-z0-9_+\-/]+$', zone) -%}
        {{ exceptions.raise_compiler_error("LLM_USAGE_REPORTING_TIMEZONE=" ~ zone ~ " is not an IANA time zone name") }}
    {%- endif -%}
    {{- zone -}}
{%- endmacro %}

{% macro to_reporting_date(timestamp_column) -%}
    {{ return(adapter.dispatch('to_reporting_date', 'llm_usage')(timestamp_column)) }}
{%- endmacro %}

{% macro duckdb__to_reporting_date(timestamp_column) -%}
    cast(timezone('{{ reporting_timezone() }}', {{ timestamp_column }}) as date)
{%- endmacro %}

{% macro spark__to_reporting_date(timestamp_column) -%}
    to_date(from_utc_timestamp({{ timestamp_column }}, '{{ reporting_timezone() }}'))
{%- endmacro %}

{#- ISO weeks start on Monday; date_trunc('week') does that on DuckDB and Spark alike. -#}
{% macro week_start(date_column) -%}
    cast({{ dbt.date_trunc('week', date_column) }} as date)
{%- endmacro %}

{% macro month_start(date_column) -%}
    cast({{ dbt.date_trunc('month', date_column) }} as date)
{%- endmacro %}

{#- The instant a UTC calendar day (a date or timestamp expression) begins. -#}
{% macro utc_midnight(day_expression) -%}
    {{ return(adapter.dispatch('utc_midnight', 'llm_usage')(day_expression)) }}
{%- endmacro %}

{% macro duckdb__utc_midnight(day_expression) -%}
    timezone('UTC', cast(cast({{ day_expression }} as date) as timestamp))
{%- endmacro %}

{% macro spark__utc_midnight(day_expression) -%}
    to_utc_timestamp(cast(cast({{ day_expression }} as date) as timestamp), 'UTC')
{%- endmacro %}

{#- The zone the facts and marts were last built with completely, in
    raw.model_build_settings (written by the on-run-end hook of a build that rebuilt
    every model and passed every test). A build under another zone (or on a warehouse
    whose zone was never recorded) rebuilds every incremental model from scratch, as
    --full-refresh does (should_full_refresh below): its incremental rebuild would re-bucket
    only the touched days and leave the others in the old zone, counting some requests
    on two days and none on others. -#}
{% macro reporting_zone_changed() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set recorded = run_query(
            "select reporting_timezone from raw.model_build_settings limit 1"
        ) if _build_settings_exist() else none -%}
    {%- if recorded is not none and recorded.rows | length > 0 -%}
        {{ return(recorded.rows[0][0] != reporting_timezone()) }}
    {%- endif -%}
    {#- Nothing recorded: a new warehouse (nothing to rebuild) or one built before the zone
        was recorded (rebuild, since its zone is unknown). -#}
    {{ return(adapter.dispatch('facts_exist', 'llm_usage')()) }}
{%- endmacro %}

{% macro default__facts_exist() -%}
    {%- set facts = run_query(
            "select count(*) from duckdb_tables() where table_name = 'fct_requests'") -%}
    {{ return(facts.rows[0][0] > 0) }}
{%- endmacro %}

{% macro spark__facts_exist() -%}
    {%- set facts = _model_relation('fct_requests') -%}
    {{ return(adapter.get_relation(database=none, schema=facts.schema,
                                   identifier=facts.identifier) is not none) }}
{%- endmacro %}

{% macro _build_settings_exist() -%}
    {{ return(adapter.dispatch('build_settings_exist', 'llm_usage')()) }}
{%- endmacro %}

{% macro default__build_settings_exist() -%}
    {%- set found = run_query(
            "select count(*) from duckdb_tables() "
            ~ "where schema_name = 'raw' and table_name = 'model_build_settings'") -%}
    {{ return(found.rows[0][0] > 0) }}
{%- endmacro %}

{#- The on-run-start hook declares the table on Spark (macros/spark_raw_tables.sql). -#}
{% macro spark__build_settings_exist() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro record_reporting_zone() -%}
    {{ return(adapter.dispatch('record_reporting_zone', 'llm_usage')()) }}
{%- endmacro %}

{% macro default__record_reporting_zone() -%}
    create table if not exists raw.model_build_settings (
        reporting_timezone varchar not null,
        recorded_at timestamptz not null
    );
    delete from raw.model_build_settings;
    insert into raw.model_build_settings values ('{{ reporting_timezone() }}', now());
{%- endmacro %}

{#- One statement (a Spark session runs one at a time), into the table the on-run-start
    hook declared: Parquet has no DELETE, so the row is overwritten. -#}
{% macro spark__record_reporting_zone() -%}
    insert overwrite table raw.model_build_settings
    select '{{ reporting_timezone() }}', current_timestamp()
{%- endmacro %}

{#- dbt's own should_full_refresh (the --full-refresh flag or a model's full_refresh
    config), plus a change of reporting time zone. is_incremental() and the incremental
    materialization both ask this macro, so every incremental model rebuilds whole. -#}
{% macro should_full_refresh() -%}
    {%- set config_full_refresh = config.get('full_refresh') -%}
    {%- if config_full_refresh is none -%}
        {%- set config_full_refresh = flags.FULL_REFRESH -%}
    {%- endif -%}
    {{ return(config_full_refresh or reporting_zone_changed()) }}
{%- endmacro %}
