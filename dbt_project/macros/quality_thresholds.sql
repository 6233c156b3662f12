{#- A data-quality threshold as dbt reads it: the setting LLM_USAGE_DQ_<NAME>, declared
    once in config/settings.py (Thresholds) and read as every setting is (settings.sql),
    so the facts use the very ceiling the raw checks used. NULL while parsing or linting,
    which never run it. -#}
{% macro dq_threshold(name) -%}
    {%- set variable = 'LLM_USAGE_DQ_' ~ (name | upper) -%}
    {%- set value = setting(variable) -%}
    {%- if value == '' -%}
        {{- return('null') -}}
    {%- endif -%}
    {%- if value | lower in ('inf', 'infinity') -%}
        {#- No ceiling, as the checks read it (float('inf')). -#}
        {{- return("cast('infinity' as double)") -}}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?$', value) -%}
        {{ exceptions.raise_compiler_error(variable ~ "=" ~ value ~ " is not a non-negative number") }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}
