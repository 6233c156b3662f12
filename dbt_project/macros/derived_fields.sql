{#- Per-request fields derived from the logged ones (docs/metrics.md, "Throughput").
    fct_requests computes them for the marts; quality/rules.py renders these same macros
    with plain Jinja to check raw records before dbt runs, so the definition lives here
    only. Keep them plain Jinja over column names: no dbt context (ref, var, adapter). -#}

{#- Time spent generating after the first token (all of it when there was none). -#}
{% macro generation_ms(latency_ms='latency_ms', first_token_ms='first_token_ms') -%}
    case when {{ first_token_ms }} is not null then {{ latency_ms }} - {{ first_token_ms }}
         else {{ latency_ms }} end
{%- endmacro %}

{#- Output tokens per generation second, defined only where it means something: a
    success that produced tokens over time. -#}
{% macro throughput_tps(status='status', output_tokens='output_tokens', generation_ms='generation_ms') -%}
    case when {{ status }} = 'success' and {{ output_tokens }} > 0 and {{ generation_ms }} > 0
         then {{ output_tokens }} / ({{ generation_ms }} / 1000.0) end
{%- endmacro %}
