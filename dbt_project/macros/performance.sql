{#- Performance figures shared by the summary and per-model marts. Latency, first-token
    and throughput figures use the successful requests fct_requests puts in them
    (in_latency_figures, in_first_token_figures, in_throughput_figures; defined in
    macros/derived_fields.sql): one with an implausible timing is left out of that
    figure only. -#}

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
