-- docs/metrics.md invariant 1, per row of the daily fact (the grain every mart reads).
select event_date, api_key_id, model, provider, billing_mode, total_tokens
from {{ ref('fct_usage_daily') }}
where uncached_input_tokens + cached_input_tokens + cache_write_tokens
      + output_excl_reasoning_tokens + reasoning_tokens <> total_tokens
