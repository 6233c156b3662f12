{#- Models whose rows are independent from one local day to another (every group keeps
    event_date) and whose one statement over many days outgrows memory: the hourly
    latency mart's grouping sets multiply the hourly sketch rows by about 16 and sort
    them, and DuckDB's work for N days in one statement grows faster than N times a
    day's (at 1,000,000 requests a day: one day 14 s of CPU and no temporary files, 8 days
    266 s and 11 GiB of them, 30 days over 55 GB before it was stopped;
    docs/benchmarks.md). Such a model is built in a scratch table one statement a day by
    its pre-hook (`build_day_by_day`), and the model's own statement selects that table:
    the incremental materialization then replaces the days as for any other model.

    `rows` is a macro taking one argument, a SQL condition on event_date, that returns
    the model's statement restricted to the days meeting it. -#}

{% macro day_by_day_scratch() -%}
    {{ return(api.Relation.create(database=this.database, schema=this.schema, identifier=this.identifier ~ '__by_day')) }}
{%- endmacro %}

{#- The pre-hook: the days this build rebuilds (the touched days; every day of `source`
    when the model is built whole), then the scratch table made empty from the statement
    and filled a day at a time. -#}
{% macro build_day_by_day(rows, source) -%}
    {%- if execute %}
        {%- set scratch = day_by_day_scratch() %}
        {%- if is_incremental() %}
            {%- set days_query = 'select event_date from ' ~ touched_event_dates() ~ ' as touched order by 1' %}
        {%- else %}
            {%- set days_query = 'select distinct event_date from ' ~ source ~ ' order by 1' %}
        {%- endif %}
        {%- set days = run_query(days_query).columns[0].values() %}
        {%- do run_query('drop table if exists ' ~ scratch) %}
        {%- do run_query(day_by_day_create(scratch, rows('false'))) %}
        {%- for day in days %}
            {#- A date from DuckDB; Spark's driver may hand back a datetime: its first ten
                characters are the ISO day either way. #}
            {%- set day_rows = rows("event_date = date '" ~ (day | string)[:10] ~ "'") %}
            {%- do run_query('insert into ' ~ scratch ~ ' select * from (' ~ day_rows ~ ') as day_rows') %}
        {%- endfor %}
    {%- endif %}
    select 1
{%- endmacro %}

{#- The scratch table, unpartitioned (an insert into a Spark table partitioned by a
    column in the middle of the statement's columns would put values in the wrong
    columns), in the model's format. -#}
{% macro day_by_day_create(relation, sql) -%}
    {{ return(adapter.dispatch('day_by_day_create', 'llm_usage')(relation, sql)) }}
{%- endmacro %}

{% macro default__day_by_day_create(relation, sql) -%}
    create table {{ relation }} as select * from ({{ sql }}) as day_rows
{%- endmacro %}

{% macro spark__day_by_day_create(relation, sql) -%}
    create table {{ relation }} using parquet as select * from ({{ sql }}) as day_rows
{%- endmacro %}

{% macro drop_day_by_day_scratch() -%}
    drop table if exists {{ day_by_day_scratch() }}
{%- endmacro %}
