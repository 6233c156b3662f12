{{ config(meta={'dagster': {'ref': {'name': 'fct_usage_daily'}}}) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}
-- docs/metrics.md invariant 1, per row of the daily fact (the grain every mart reads), for
-- the event days the build rebuilt (macros/test_scope.sql).
select event_date, api_key_id, model, provider, billing_mode, total_tokens
from {{ ref('fct_usage_daily') }}
where {{ event_date_in_build() }}
  and uncached_input_tokens + cached_input_tokens + cache_write_tokens
      + output_excl_reasoning_tokens + reasoning_tokens <> total_tokens
