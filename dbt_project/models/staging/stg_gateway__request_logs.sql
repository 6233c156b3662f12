-- One row per delivered record, typed and placed on the reporting calendar.
-- Unknown optional token counts become 0 here: the metrics sum them, and a log that
-- does not report cache or reasoning tokens had none that it could bill.
select
    request_id,
    landing_date,
    source_file,
    line_number,
    created_at,
    {{ to_reporting_date('created_at') }} as event_date,
    api_key_id,
    coalesce(api_key_name, api_key_id) as api_key_name,
    model,
    provider,
    billing_mode,
    status,
    http_status,
    error_type,
    finish_reason,
    stream,
    input_tokens,
    output_tokens,
    coalesce(cached_input_tokens, 0) as cached_input_tokens,
    coalesce(cache_write_tokens, 0) as cache_write_tokens,
    coalesce(reasoning_tokens, 0) as reasoning_tokens,
    coalesce(web_search_calls, 0) as web_search_calls,
    latency_ms,
    first_token_ms,
    cost_usd
from {{ source('raw', 'request_logs') }} as delivery
-- Landing days a blocking data-quality check rejected as a whole (a systemic fault) stay
-- out until a run passes. The checks own this table (ingest/warehouse.py creates it); it
-- is not a dbt source because it is bookkeeping of the same Dagster run, not data anyone
-- materializes.
where landing_date not in (select landing_date from raw.quality_holds)
  -- Single records a blocking rule rejected stay out; the rest of their day loads. Not
  -- a dbt source either, for the same reason as raw.quality_holds.
  and not exists (
      select 1
      from raw.quarantined_records as quarantined
      where quarantined.landing_date = delivery.landing_date
        and quarantined.source_file = delivery.source_file
        and quarantined.line_number = delivery.line_number
  )
