{#- The additive measures of the usage facts: name -> expression over fct_requests.
    Only sums and counts, never averages, so that days roll up to weeks and months and
    every mart can derive its ratios exactly. Defined once; the daily fact sums the
    expressions, the period fact (weeks and months) sums the daily columns. Token, request and
    spend measures count every request; the latency and throughput measures only those
    in their figures (fct_requests.in_latency_figures, in_throughput_figures). -#}

{% macro usage_measures() -%}
    {%- set measures = {
        'requests': '1',
        'successful_requests': 'case when is_success then 1 else 0 end',
        'deliveries': 'deliveries',
        'input_tokens': 'input_tokens',
        'output_tokens': 'output_tokens',
        'total_tokens': 'total_tokens',
        'uncached_input_tokens': 'uncached_input_tokens',
        'cached_input_tokens': 'cached_input_tokens',
        'cache_write_tokens': 'cache_write_tokens',
        'output_excl_reasoning_tokens': 'output_excl_reasoning_tokens',
        'reasoning_tokens': 'reasoning_tokens',
        'web_search_requests': 'case when web_search_calls > 0 then 1 else 0 end',
        'web_search_calls': 'web_search_calls',
        'web_search_total_tokens': 'case when web_search_calls > 0 then total_tokens else 0 end',
        'latency_requests': 'case when in_latency_figures then 1 else 0 end',
        'latency_ms_sum': 'case when in_latency_figures then latency_ms else 0 end',
        'throughput_requests': 'case when in_throughput_figures then 1 else 0 end',
        'throughput_output_tokens': 'case when in_throughput_figures then output_tokens else 0 end',
        'throughput_generation_seconds': 'case when in_throughput_figures then generation_ms / 1000.0 else 0 end',
        'spend_usd': 'coalesce(cost_usd, 0)',
        'requests_with_cost': 'case when cost_usd is not null then 1 else 0 end',
        'tokens_with_cost': 'case when cost_usd is not null then total_tokens else 0 end',
    } -%}
    {#- Why requests failed: one count per error class (macros/error_classes.sql), which
        add up to requests - successful_requests. -#}
    {%- for class in error_classes() -%}
        {%- do measures.update({class ~ '_errors': "case when error_class = '" ~ class ~ "' then 1 else 0 end"}) -%}
    {%- endfor -%}
    {#- The gateway's response cache (fct_requests.is_gateway_cache_hit) and the provider's
        prompt cache over the requests that reached a provider. -#}
    {%- do measures.update({
        'gateway_cache_hits': 'case when is_gateway_cache_hit then 1 else 0 end',
        'saved_cache_cost_usd': 'case when is_gateway_cache_hit then coalesce(saved_cache_cost_usd, 0) else 0 end',
        'gateway_cache_hits_with_saved_cost': 'case when is_gateway_cache_hit and saved_cache_cost_usd is not null then 1 else 0 end',
        'cache_read_requests': 'case when not is_gateway_cache_hit and cached_input_tokens > 0 then 1 else 0 end',
        'provider_input_tokens': 'case when is_gateway_cache_hit then 0 else input_tokens end',
        'provider_cache_read_tokens': 'case when is_gateway_cache_hit then 0 else cached_input_tokens end',
        'provider_cache_write_tokens': 'case when is_gateway_cache_hit then 0 else cache_write_tokens end',
    }) -%}
    {{ return(measures) }}
{%- endmacro %}

{#- The error-class measures' names (<class>_errors), in the classes' order. -#}
{% macro error_class_measures() -%}
    {%- set names = [] -%}
    {%- for class in error_classes() -%}{%- do names.append(class ~ '_errors') -%}{%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- Measures in milliseconds, seconds or USD are real numbers; all others are counts. -#}
{% macro usage_measure_type(name) -%}
    {{ 'double' if name in ('latency_ms_sum', 'throughput_generation_seconds', 'spend_usd', 'saved_cache_cost_usd') else 'bigint' }}
{%- endmacro %}

{#- `names`: only these measures (the end-user and tag facts keep the usage figures their
    marts show). -#}
{% macro sum_usage_measures(from_request_grain, names=none) -%}
    {%- set measures = usage_measures() -%}
    {%- set names = names or measures.keys() | list -%}
    {%- for name in names %}
    cast(sum({{ measures[name] if from_request_grain else name }}) as {{ usage_measure_type(name) }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The measures of the breakdown facts of high-cardinality and multi-valued dimensions
    (end users, tags): tokens, requests and spend. -#}
{% macro breakdown_measures() -%}
    {{ return(['requests', 'input_tokens', 'output_tokens', 'total_tokens', 'spend_usd',
               'requests_with_cost', 'tokens_with_cost']) }}
{%- endmacro %}

{#- Spend figures of one filter row (or breakdown row), from the usage facts' sums:
    Spend, its cost coverage and the cost per million tokens over requests with a cost.
    Columns: spend_usd, requests_with_cost, cost_coverage, cost_per_million_tokens. -#}
{% macro spend_figures() -%}
    cast(sum(spend_usd) as double) as spend_usd,
    cast(sum(requests_with_cost) as bigint) as requests_with_cost,
    {{ ratio('sum(requests_with_cost)', 'sum(requests)') }} as cost_coverage,
    {{ ratio('sum(spend_usd) * 1000000.0', 'sum(tokens_with_cost)') }} as cost_per_million_tokens
{%- endmacro %}
