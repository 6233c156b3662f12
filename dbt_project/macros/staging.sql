{#- The staging of delivered records: one row per delivery, typed and placed on the
    reporting calendar (models/staging/stg_gateway__request_logs.sql is this, unfiltered).

    `raw_where`: a condition on raw.request_logs' own columns, applied before the staged
    columns are worked out. A model that needs a few requests' deliveries from all of
    history (every delivery of tonight's requests) passes it: through the view, DuckDB
    works out the view's columns and hold filters for every delivery ever made before it
    applies a condition such as `request_id in (...)`, which made the nightly fct_requests
    grow with history (19 s after 7 days, 80 s after 30, at 1,000,000 requests a day;
    docs/benchmarks.md). -#}
{% macro staged_request_logs(raw_where=none) -%}
select
    request_id,
    landing_date,
    source_file,
    line_number,
    created_at,
    {{ to_reporting_date('created_at') }} as event_date,
    -- The declared dimensions (macros/dimensions.sql): api_key_id, api_key_name, model,
    -- provider, organization_id, ...; a missing id is '(none)', a missing name the id.
    {{- staged_dimensions() }}
    billing_mode,
    status,
    http_status,
    error_type,
    finish_reason,
    stream,
    input_tokens,
    output_tokens,
    -- Unknown optional token counts become 0: the metrics sum them, and a log that does
    -- not report cache or reasoning tokens had none that it could bill.
    coalesce(cached_input_tokens, 0) as cached_input_tokens,
    coalesce(cache_write_tokens, 0) as cache_write_tokens,
    coalesce(reasoning_tokens, 0) as reasoning_tokens,
    coalesce(web_search_calls, 0) as web_search_calls,
    latency_ms,
    first_token_ms,
    cost_usd,
    -- Absent = the gateway did not answer from its response cache.
    coalesce(served_from_cache, false) as served_from_cache,
    saved_cache_cost_usd,
    -- The gateway's own spend limits of the key and its team when the request was made
    -- (NULL: none known); dim_gateway_limits keeps each key's and team's latest.
    api_key_max_budget_usd,
    team_max_budget_usd
from (
    select * from {{ source('raw', 'request_logs') }}
    {%- if raw_where %}
    where {{ raw_where }}
    {%- endif %}
) as delivery
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
{%- endmacro %}
