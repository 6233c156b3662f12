{{ config(meta={'dagster': {'ref': {'name': 'fct_requests'}}}) }}
-- docs/metrics.md invariant 1, per request: the five token-type parts add up to total_tokens.
-- Returns the requests where they do not, among the event days the build rebuilt.
select request_id, event_date, total_tokens,
       uncached_input_tokens, cached_input_tokens, cache_write_tokens,
       output_excl_reasoning_tokens, reasoning_tokens
from {{ ref('fct_requests') }}
where {{ event_date_in_build() }}
  and (uncached_input_tokens + cached_input_tokens + cache_write_tokens
       + output_excl_reasoning_tokens + reasoning_tokens <> total_tokens
       or uncached_input_tokens < 0
       or output_excl_reasoning_tokens < 0)
