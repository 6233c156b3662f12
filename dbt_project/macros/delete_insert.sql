{#- dbt-duckdb's delete+insert deletes a multi-column unique_key with
    `DELETE ... USING tmp WHERE tmp.k1 = target.k1 AND ...`. The marts' key
    (grain, period_start) is not unique per row, so that join pairs every old row of a
    period with every new row of it: quadratic in the rows of a period, seconds at a few
    thousand rows a day and hours at a million (see docs/benchmarks.md). A tuple IN over
    the distinct keys is a semi-join, linear in both tables. The root project's macro
    takes precedence over the adapter's. -#}

{% macro duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- if keys %}
    {%- set touched = _touched_keys(keys) %}
    delete from {{ target }}
    where (({{ keys | join(', ') }}) in (
        select distinct {{ keys | join(', ') }} from {{ source }}
    )
    {%- if touched %}
    {#- A period the build rebuilt can come out empty (its only requests were withdrawn or
        moved): its rows go too, though the new rows hold no key for it. #}
        or ({{ keys | join(', ') }}) in {{ touched }}
    {%- endif %})
    {%- for predicate in incremental_predicates or [] %}
      and {{ predicate }}
    {%- endfor %};
    {%- endif %}

    insert into {{ target }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ source }}
    )
{%- endmacro %}

{#- The keys of the periods this build rebuilds, for the key columns the facts and marts
    use; none for any other key. -#}
{% macro _touched_keys(keys) -%}
    {%- set touched = '(select event_date from ' ~ _model_relation('int_event_dates_touched_by_run') ~ ')' -%}
    {%- set weeks = '(select distinct ' ~ week_start('event_date') ~ ' from ' ~ touched ~ ' as t)' -%}
    {%- set months = '(select distinct ' ~ month_start('event_date') ~ ' from ' ~ touched ~ ' as t)' -%}
    {%- if keys == ['event_date'] -%}
        {{ return(touched) }}
    {%- elif keys == ['week_start'] -%}
        {{ return(weeks) }}
    {%- elif keys == ['month_start'] -%}
        {{ return(months) }}
    {%- elif keys == ['grain', 'period_start'] -%}
        {{ return("(select 'day', event_date from " ~ touched ~ " as d union all "
                  ~ "select 'week', * from " ~ weeks ~ " as w union all "
                  ~ "select 'month', * from " ~ months ~ " as m)") }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
