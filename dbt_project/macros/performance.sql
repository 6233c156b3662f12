{#- Performance figures shared by the summary and per-model marts. Latency, first-token
    and throughput figures use successful requests only (fct_requests.throughput_tps is
    already NULL for anything else). -#}

{#- Percentiles are not computed from request rows: they come from the latency sketch
    facts (macros/sketch.sql), so that no period reads its raw requests again. -#}

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
