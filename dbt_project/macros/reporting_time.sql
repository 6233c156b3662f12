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
