{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('stg_gateway__request_logs') }}

-- Usage tab, Usage by Token Type: total tokens in five parts that add up exactly to
-- total_tokens. Grain: grain x period_start x api_key_id x model x provider ('*' = all).
-- Pay-as-you-go requests only.
with usage as (
    {{ pay_as_you_go_usage() }}
)

select
    grain,
    period_start,
    {{ filter_columns() }},
    cast(sum(uncached_input_tokens) as bigint) as uncached_input_tokens,
    cast(sum(cached_input_tokens) as bigint) as cache_read_tokens,
    cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
    cast(sum(output_excl_reasoning_tokens) as bigint) as output_excl_reasoning_tokens,
    cast(sum(reasoning_tokens) as bigint) as reasoning_tokens,
    cast(sum(total_tokens) as bigint) as total_tokens,
    current_timestamp as built_at
from usage
{{ group_by_filters() }}
