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
    delete from {{ target }}
    where ({{ keys | join(', ') }}) in (
        select distinct {{ keys | join(', ') }} from {{ source }}
    )
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
