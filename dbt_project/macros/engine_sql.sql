{#- SQL that DuckDB and Spark spell differently, one dispatched macro each, so that the
    models stay one file for both engines. `duckdb__` keeps what the project always
    ran on DuckDB; `spark__` is the Spark SQL (Spark 4) of the same result. -#}

{#- The value of the row that comes first by `order_by` ("col [desc], ...", the last
    term breaking ties), as DuckDB's first(value order by ...). -#}
{% macro first_by(value, order_by) -%}
    {{ return(adapter.dispatch('first_by', 'llm_usage')(value, order_by)) }}
{%- endmacro %}

{% macro duckdb__first_by(value, order_by) -%}
    first({{ value }} order by {{ order_by }})
{%- endmacro %}

{#- Spark has no ordered first(): min_by over a struct of the order terms compares them
    field by field, and a descending numeric term is negated. Only numeric terms may be
    descending (the models rank by counts and averages, and break ties by name). -#}
{% macro spark__first_by(value, order_by) -%}
    {%- set terms = [] -%}
    {%- for term in order_by.split(',') -%}
        {%- set words = term.strip().split() -%}
        {%- if words | length == 2 and words[1] | lower == 'desc' -%}
            {%- do terms.append('-(' ~ words[0] ~ ')') -%}
        {%- elif words | length == 1 or (words | length == 2 and words[1] | lower == 'asc') -%}
            {%- do terms.append(words[0]) -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error("first_by cannot order by '" ~ term ~ "'") }}
        {%- endif -%}
    {%- endfor -%}
    min_by({{ value }}, struct({{ terms | join(', ') }}))
{%- endmacro %}

{#- Every column of `relation_alias` but `columns` (a list, or a comma-separated
    string such as filter_key()'s). -#}
{% macro star_except(relation_alias, columns) -%}
    {%- set listed = columns if columns is string else columns | join(', ') -%}
    {{ return(adapter.dispatch('star_except', 'llm_usage')(relation_alias, listed)) }}
{%- endmacro %}

{% macro duckdb__star_except(relation_alias, listed) -%}
    {{ relation_alias }}.* exclude ({{ listed }})
{%- endmacro %}

{% macro spark__star_except(relation_alias, listed) -%}
    {{ relation_alias }}.* except ({{ listed }})
{%- endmacro %}

{#- A list column (tags) with repeated elements dropped, first occurrences kept in order,
    and NULL read as the empty list. -#}
{% macro distinct_list(column) -%}
    {{ return(adapter.dispatch('distinct_list', 'llm_usage')(column)) }}
{%- endmacro %}

{#- sqlfluff's DuckDB dialect (4.4) cannot parse a lambda: the noqa keeps that parse gap
    from failing `make lint`. -#}
{% macro duckdb__distinct_list(column) -%}
    coalesce(list_filter({{ column }}, lambda element, position: list_position({{ column }}, element) = position), -- noqa: PRS
             cast([] as varchar[]))
{%- endmacro %}

{#- array_distinct keeps the first occurrence of each element, in order. -#}
{% macro spark__distinct_list(column) -%}
    coalesce(array_distinct({{ column }}), cast(array() as array<string>))
{%- endmacro %}

{#- One row per element of a list column, in the select list; an empty list gives one
    row of `empty` instead (a request without tags still counts, under '(none)'). -#}
{% macro unnest_list(column, empty) -%}
    {{ return(adapter.dispatch('unnest_list', 'llm_usage')(column, empty)) }}
{%- endmacro %}

{% macro duckdb__unnest_list(column, empty) -%}
    unnest(case when len({{ column }}) = 0 then [{{ empty }}] else {{ column }} end)
{%- endmacro %}

{% macro spark__unnest_list(column, empty) -%}
    explode(case when size({{ column }}) = 0 then array({{ empty }}) else {{ column }} end)
{%- endmacro %}
