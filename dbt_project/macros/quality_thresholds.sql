{#- A data-quality threshold as dbt reads it: the setting LLM_USAGE_DQ_<NAME>, declared
    once in config/settings.py (Thresholds). Every dbt process the warehouse starts gets
    every setting in its environment (Settings.environment(), orchestration/dbt_assets.py
    dbt_environment), so the facts use the very ceiling the raw checks used. dbt run by
    hand gets them with `eval "$(python -m config.settings)"` (README.md).

    Parsing and linting render models without the environment: they get NULL, which they
    never run. A build or run without it stops here with one line instead of building
    figures against no ceiling. -#}
{% macro dq_threshold(name) -%}
    {%- set variable = 'LLM_USAGE_DQ_' ~ (name | upper) -%}
    {%- set value = env_var(variable, '') | trim -%}
    {%- if value == '' -%}
        {%- if execute and flags.WHICH in ('build', 'run') -%}
            {{ exceptions.raise_compiler_error(
                variable ~ " is not set: dbt reads the data-quality thresholds from the "
                ~ "environment the warehouse gives it; run dbt by hand after "
                ~ "`eval \"$(python -m config.settings)\"` (README.md)") }}
        {%- endif -%}
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
