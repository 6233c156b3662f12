{#- The additive measures of the usage facts: name -> expression over fct_requests.
    Only sums and counts, never averages, so that days roll up to weeks and months and
    every mart can derive its ratios exactly. Defined once; the daily fact sums the
    expressions, the weekly and monthly facts sum the daily columns. -#}

{% macro usage_measures() -%}
    {{ return({
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
        'success_latency_ms_sum': 'case when is_success then latency_ms else 0 end',
        'throughput_requests': 'case when throughput_tps is not null then 1 else 0 end',
        'throughput_output_tokens': 'case when throughput_tps is not null then output_tokens else 0 end',
        'throughput_generation_seconds': 'case when throughput_tps is not null then generation_ms / 1000.0 else 0 end',
    }) }}
{%- endmacro %}

{#- Measures in milliseconds or seconds are real numbers; all others are counts. -#}
{% macro usage_measure_type(name) -%}
    {{ 'double' if name in ('success_latency_ms_sum', 'throughput_generation_seconds') else 'bigint' }}
{%- endmacro %}

{% macro sum_usage_measures(from_request_grain) -%}
    {%- for name, expression in usage_measures().items() %}
    cast(sum({{ expression if from_request_grain else name }}) as {{ usage_measure_type(name) }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
