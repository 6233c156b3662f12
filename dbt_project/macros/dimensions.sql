{#- The dimensions every figure can be cut by, as dbt_project.yml declares them
    (`vars: dimensions:`, an ordered list; config/dimensions.py reads the same list for the
    Python side). Every fact, sketch and mart takes its dimension columns from here:
    adding a low-cardinality dimension to the declaration adds it to the grain of the
    usage and sketch facts and makes it a filter column of every mart. -#}

{#- The id columns of the low-cardinality dimensions: the grain of the usage and sketch
    facts besides the period and billing mode (api_key_id, model, provider, ...). -#}
{% macro fact_dimensions() -%}
    {{ return(var('dimensions') | selectattr('cardinality', 'equalto', 'low')
              | map(attribute='column') | list) }}
{%- endmacro %}

{#- The display-name columns of those dimensions (api_key_name, ...): not part of the
    grain, each row keeps the name its latest request carried. -#}
{% macro dimension_name_columns() -%}
    {{ return(var('dimensions') | selectattr('cardinality', 'equalto', 'low')
              | selectattr('name_column') | map(attribute='name_column') | list) }}
{%- endmacro %}

{#- The filter columns of every mart, in the declaration's order ('*' = all). -#}
{% macro filter_dimensions() -%}
    {{ return(var('dimensions') | selectattr('filter') | map(attribute='column') | list) }}
{%- endmacro %}

{#- The filter combinations every mart holds, each a list of the filter columns that keep
    a real value (the others are '*'). A filter dimension with a display name is a party
    that spends (API key, organization, team, project): one of them at a time, or none;
    one without (model, provider) is combined with each of those and with each other.
    With the six declared filters: (1 + 4) x 2^2 = 20 sets, where a CUBE of six would hold
    64 (docs/metrics.md, "Filter combinations"). -#}
{% macro filter_sets() -%}
    {%- set filters = var('dimensions') | selectattr('filter') | list -%}
    {%- set parties = filters | selectattr('name_column') | map(attribute='column') | list -%}
    {%- set crossed = filters | rejectattr('name_column') | map(attribute='column') | list -%}
    {%- set sets = [] -%}
    {%- for party in [none] + parties -%}
        {%- for mask in range(2 ** (crossed | length)) -%}
            {%- set kept = [] -%}
            {%- for column in filters | map(attribute='column') -%}
                {%- if column == party
                       or (column in crossed and (mask // 2 ** crossed.index(column)) % 2 == 1) -%}
                    {%- do kept.append(column) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do sets.append(kept) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(sets) }}
{%- endmacro %}

{#- The latest display name of each dimension in a row of a fact (names can change; each
    period shows the one its own requests last carried), and the instant it comes from.
    From the request grain or from a finer fact's columns. -#}
{% macro latest_names(from_request_grain) -%}
    {%- set at = 'created_at' if from_request_grain else 'last_request_at' -%}
    {%- for name_column in dimension_name_columns() %}
    max_by({{ name_column }}, {{ at }}) as {{ name_column }},
    {%- endfor %}
    max({{ at }}) as last_request_at
{%- endmacro %}

{#- The value a request without a dimension's id lands under (never dropped), and the
    tag a request without tags counts under. Reserved: the contract rejects it as an id,
    as it rejects '*'. -#}
{% macro no_dimension_value() -%}
    '(none)'
{%- endmacro %}

{#- The staged dimension columns of a delivery: each id ('(none)' where missing), its
    display name (the id where missing) and each list (tags: de-duplicated, order kept,
    empty where missing), in the declaration's order. -#}
{% macro staged_dimensions() -%}
    {%- for dimension in var('dimensions') %}
    {%- if dimension.cardinality == 'multi' %}
    {{ distinct_list(dimension.column) }} as {{ dimension.column }},
    {%- else %}
    coalesce({{ dimension.column }}, {{ no_dimension_value() }}) as {{ dimension.column }},
    {%- if dimension.name_column %}
    coalesce({{ dimension.name_column }}, {{ dimension.column }}, {{ no_dimension_value() }}) as {{ dimension.name_column }},
    {%- endif %}
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- Every dimension column of a request row (ids, names, lists), in the declaration's
    order, for the models that carry them all (fct_requests). -#}
{% macro dimension_columns() -%}
    {%- set columns = [] -%}
    {%- for dimension in var('dimensions') -%}
        {%- do columns.append(dimension.column) -%}
        {%- if dimension.name_column and dimension.cardinality != 'multi' -%}
            {%- do columns.append(dimension.name_column) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}
