{#- Performance figures over request rows, shared by the summary and per-model marts.
    Latency, first-token and throughput figures use successful requests only
    (fct_requests.throughput_tps is already NULL for anything else). -#}

{#- Average Throughput: Σ output_tokens / Σ generation seconds over the requests whose
    throughput is defined, so tiny requests do not dominate as a mean of ratios would. -#}
{% macro average_throughput() -%}
    {{ ratio('sum(output_tokens) filter (where throughput_tps is not null)',
             'sum(generation_ms / 1000.0) filter (where throughput_tps is not null)') }}
{%- endmacro %}

{#- Exact percentile with linear interpolation between the two nearest ranks (DuckDB
    quantile_cont; the same as pandas' default Series.quantile). Never averaged across
    periods: each period and filter computes it from its own requests. -#}
{% macro percentile(column, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'llm_usage')(column, fraction)) }}
{%- endmacro %}

{% macro duckdb__percentile(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}

{#- Spark's percentile() is exact with the same linear interpolation. -#}
{% macro spark__percentile(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}

{#- Several exact percentiles of one column as a list, in the order of `fractions`: one
    aggregate orders the values once, where one percentile() per fraction orders them
    once each (at a million requests a day, 5.4 -> 2.0 CPU-seconds for the latency mart's
    three). Pick the elements with [1], [2], ... -#}
{% macro percentiles(column, fractions) -%}
    {{ return(adapter.dispatch('percentiles', 'llm_usage')(column, fractions)) }}
{%- endmacro %}

{% macro duckdb__percentiles(column, fractions) -%}
    quantile_cont({{ column }}, [{{ fractions | join(', ') }}])
{%- endmacro %}

{#- Spark indexes arrays from 0 where DuckDB lists start at 1: a NULL in front keeps
    the models' [1], [2], ... picking the same fractions on both engines. -#}
{% macro spark__percentiles(column, fractions) -%}
    concat(array(cast(null as double)), percentile({{ column }}, array({{ fractions | join(', ') }})))
{%- endmacro %}

{#- The candidate (model or provider) that comes first by `order_by` among candidates
    with at least var('min_sample') successful requests; NULL when none qualifies.
    `order_by` ends with the candidate name, so ties break alphabetically. -#}
{% macro pick_ranked(candidate, order_by, value) -%}
    {{ first_by(candidate, order_by ~ ', ' ~ candidate) }}
        filter (where successful_requests >= {{ var('min_sample') }} and {{ value }} is not null)
{%- endmacro %}

{% macro pick_ranked_value(candidate, order_by, value) -%}
    {{ first_by(value, order_by ~ ', ' ~ candidate) }}
        filter (where successful_requests >= {{ var('min_sample') }} and {{ value }} is not null)
{%- endmacro %}
