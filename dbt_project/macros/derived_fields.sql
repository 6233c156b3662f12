{#- Per-request fields derived from the logged ones (docs/metrics.md, "Throughput", "Which
    requests each performance figure leaves out"). fct_requests computes them for the
    marts; quality/rules.py renders these same macros with plain Jinja to check raw
    records before dbt runs, so the definition lives here only. Keep them plain Jinja
    over column names: no dbt context (ref, var, env_var, adapter). A ceiling is an
    argument: dbt passes the setting (macros/quality_thresholds.sql), the checks a
    placeholder they fill with the same setting (config/settings.py, Thresholds). -#}

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

{#- Plausibility of the performance fields. A record that fails one is still a request:
    it keeps its tokens, requests and spend in every sum, and only the figures the field
    feeds leave it out (the in_*_figures macros below). The raw check of the same name
    counts such records as a warning (quality/rules.py); none of them holds a day.
    Each is true, false, or NULL where a field it reads is missing. -#}

{#- The latency lies inside its range: above zero, below the ceiling. -#}
{% macro latency_plausible(max_latency_ms, latency_ms='latency_ms') -%}
    ({{ latency_ms }} > 0 and {{ latency_ms }} < {{ max_latency_ms }})
{%- endmacro %}

{#- The first token came no later than the last byte. -#}
{% macro first_token_plausible(first_token_ms='first_token_ms', latency_ms='latency_ms') -%}
    ({{ first_token_ms }} <= {{ latency_ms }})
{%- endmacro %}

{#- Throughput below the ceiling: a cache hit or mocked call answered in a millisecond
    gives thousands of tokens per "second" that no model generated. -#}
{% macro throughput_plausible(max_throughput_tps, throughput_tps='throughput_tps') -%}
    ({{ throughput_tps }} < {{ max_throughput_tps }})
{%- endmacro %}

{#- A gateway cache hit (docs/metrics.md, "Gateway cache hits"): a successful request the
    gateway answered from its own response cache, so no provider served it. It counts in
    requests, tokens and spend as the gateway reported them, and in no provider's
    request distribution, success rate or pick, nor in any latency, first-token or
    throughput figure. A failure flagged as served from cache did reach a provider's
    error path as far as anyone can tell: it counts as a failed request of its provider. -#}
{% macro gateway_cache_hit(status='status', served_from_cache='served_from_cache') -%}
    coalesce({{ status }} = 'success' and {{ served_from_cache }}, false)
{%- endmacro %}

{#- The populations of the performance figures (never NULL). Latency figures: successful
    requests with a plausible latency. First-token figures: successful streamed requests
    whose first token is known and not after the last byte. Throughput figures: requests
    whose throughput_tps is defined, from a plausible latency, and below the ceiling.
    A gateway cache hit is in none of them: it timed the cache, not a model. -#}
{% macro in_latency_figures(max_latency_ms, status='status', latency_ms='latency_ms', served_from_cache='served_from_cache') -%}
    coalesce({{ status }} = 'success' and {{ latency_plausible(max_latency_ms, latency_ms) }}
             and not {{ gateway_cache_hit(status, served_from_cache) }}, false)
{%- endmacro %}

{% macro in_first_token_figures(status='status', stream='stream', first_token_ms='first_token_ms', latency_ms='latency_ms', served_from_cache='served_from_cache') -%}
    coalesce({{ status }} = 'success' and {{ stream }} and {{ first_token_ms }} is not null
             and {{ first_token_plausible(first_token_ms, latency_ms) }}
             and not {{ gateway_cache_hit(status, served_from_cache) }}, false)
{%- endmacro %}

{% macro in_throughput_figures(max_latency_ms, max_throughput_tps, throughput_tps='throughput_tps', latency_ms='latency_ms', status='status', served_from_cache='served_from_cache') -%}
    coalesce({{ throughput_tps }} is not null and {{ latency_plausible(max_latency_ms, latency_ms) }}
             and {{ throughput_plausible(max_throughput_tps, throughput_tps) }}
             and not {{ gateway_cache_hit(status, served_from_cache) }}, false)
{%- endmacro %}
