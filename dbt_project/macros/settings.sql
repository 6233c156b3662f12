{#- A setting of the warehouse as dbt reads it. config/settings.py declares every setting
    with its default and checks it; every dbt process the warehouse starts gets all of
    them in its environment (Settings.environment(), orchestration/dbt_assets.py
    dbt_environment), so dbt uses the very values the rest of the run uses and restates
    no default. dbt run by hand gets them with `eval "$(python -m config.settings)"`
    (README.md).

    Parsing and linting render models without the environment: they get '' and never run
    what they render. A build, run or test without it stops here with one line (a test
    would otherwise judge the data against a stand-in value). -#}
{% macro setting(variable) -%}
    {%- set value = env_var(variable, '') | trim -%}
    {%- if value == '' and execute and flags.WHICH in ('build', 'run', 'test', 'retry') -%}
        {{ exceptions.raise_compiler_error(
            variable ~ " is not set: dbt reads the warehouse's settings from the environment "
            ~ "it gives dbt; run dbt by hand after "
            ~ "`eval \"$(python -m config.settings)\"` (README.md)") }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}
