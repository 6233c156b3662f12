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
    {#- Every node asks (each is_incremental() of a model, its materialization, each test's
        scope): about 200 times a build, two statements each, which cost a refresh more
        than its data. The answer is about the warehouse as the build found it (only the
        build's on-run-end hook records a zone), so the first answer serves the whole
        build. dbt has no public place for state shared by the nodes of one invocation;
        the graph dict is the one object they all see, and the answer is kept under the
        invocation's id, so an invocation that reuses a loaded manifest (dbtRunner) asks
        again. -#}
    {%- set kept = graph.setdefault('llm_usage_reporting_zone_changed', {}) -%}
    {%- if invocation_id not in kept -%}
        {%- do kept.clear() -%}
        {%- do kept.update({invocation_id: _reporting_zone_changed_now()}) -%}
    {%- endif -%}
    {{ return(kept[invocation_id]) }}
{%- endmacro %}

{% macro _reporting_zone_changed_now() -%}
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

{#- Hours in the reporting zone. A local hour is named by its label (the wall-clock time
    it starts at, a timestamp without zone) but identified by the instant it starts
    (reporting_hour_start): on the day clocks go back the label 01:00 names two hours,
    one instant each, told apart by their UTC offsets; on the day they go forward the
    skipped label never occurs, so a local day has 23, 24 or 25 hours. Zones whose
    offset is not whole hours (Asia/Kolkata +05:30, Asia/Kathmandu +05:45) bucket by
    their own local hour: 10:00 in Kathmandu starts at 04:15 UTC. -#}
{% macro reporting_hour_label(timestamp_column) -%}
    {{ return(adapter.dispatch('reporting_hour_label', 'llm_usage')(timestamp_column)) }}
{%- endmacro %}

{% macro duckdb__reporting_hour_label(timestamp_column) -%}
    date_trunc('hour', timezone('{{ reporting_timezone() }}', {{ timestamp_column }}))
{%- endmacro %}

{#- A wall-clock time, so a timestamp without zone on both engines: Spark's TIMESTAMP is
    an instant (written to Parquet as one, which readers show in UTC with an offset), its
    TIMESTAMP_NTZ the local label DuckDB's TIMESTAMP is. -#}
{% macro spark__reporting_hour_label(timestamp_column) -%}
    cast({{ spark_local_hour(timestamp_column) }} as timestamp_ntz)
{%- endmacro %}

{#- The local hour's wall-clock time as a Spark TIMESTAMP read in the session's zone
    (UTC, profiles.yml): the form Spark's time arithmetic takes. -#}
{% macro spark_local_hour(timestamp_column) -%}
    date_trunc('HOUR', from_utc_timestamp({{ timestamp_column }}, '{{ reporting_timezone() }}'))
{%- endmacro %}

{#- The instant the local hour of an instant begins: the instant less the time elapsed
    since its local hour began (read on the local clock, which within one hour runs with
    the instant: every transition of a zone in use falls on a whole local hour but Lord
    Howe's half-hour one). -#}
{% macro reporting_hour_start(timestamp_column) -%}
    {{ return(adapter.dispatch('reporting_hour_start', 'llm_usage')(timestamp_column)) }}
{%- endmacro %}

{% macro duckdb__reporting_hour_start(timestamp_column) -%}
    ({{ timestamp_column }} - (timezone('{{ reporting_timezone() }}', {{ timestamp_column }})
                               - {{ reporting_hour_label(timestamp_column) }}))
{%- endmacro %}

{% macro spark__reporting_hour_start(timestamp_column) -%}
    timestamp_micros(unix_micros({{ timestamp_column }})
        - (unix_micros(from_utc_timestamp({{ timestamp_column }}, '{{ reporting_timezone() }}'))
           - unix_micros({{ spark_local_hour(timestamp_column) }})))
{%- endmacro %}

{#- The UTC offset of an hour in minutes (local label - instant): -300 for 01:00 EST,
    -240 for 01:00 EDT, 345 in Kathmandu. -#}
{% macro reporting_hour_offset_minutes(label_column, start_column) -%}
    {{ return(adapter.dispatch('reporting_hour_offset_minutes', 'llm_usage')(label_column, start_column)) }}
{%- endmacro %}

{% macro duckdb__reporting_hour_offset_minutes(label_column, start_column) -%}
    cast((epoch({{ label_column }}) - epoch({{ start_column }})) / 60 as integer)
{%- endmacro %}

{#- The label (TIMESTAMP_NTZ) as a TIMESTAMP is its wall-clock time read in the session's
    zone, UTC (profiles.yml): its epoch seconds are the label's as if it were UTC. -#}
{% macro spark__reporting_hour_offset_minutes(label_column, start_column) -%}
    cast((unix_seconds(cast({{ label_column }} as timestamp))
          - unix_seconds({{ start_column }})) / 60 as int)
{%- endmacro %}

{#- How many days of hourly detail the hourly facts and marts keep, counted back from
    the latest event day loaded: LLM_USAGE_HOURLY_RETENTION_DAYS, declared with its
    default in config/settings.py and read as every setting is (settings.sql). Days,
    weeks and months keep all history. -#}
{% macro hourly_retention_days() -%}
    {%- set variable = 'LLM_USAGE_HOURLY_RETENTION_DAYS' -%}
    {%- set days = setting(variable) -%}
    {%- if days == '' -%}
        {#- Parsing and linting: any whole number renders, and none is ever used. -#}
        {{- return(1) -}}
    {%- endif -%}
    {%- if not days.isdigit() or days | int < 1 -%}
        {{ exceptions.raise_compiler_error(variable ~ "=" ~ days ~ " is not a whole number of days (1 or more)") }}
    {%- endif -%}
    {{ return(days | int) }}
{%- endmacro %}

{#- The first event day whose hours are kept: retention days back from the latest event
    day of fct_requests (the data, not the clock, so a backfill of old days keeps its
    hours as long as it is the newest data). -#}
{% macro first_hourly_day() -%}
    (select {{ dbt.dateadd('day', 1 - hourly_retention_days(), 'max(event_date)') }}
     from {{ ref('fct_requests') }})
{%- endmacro %}
