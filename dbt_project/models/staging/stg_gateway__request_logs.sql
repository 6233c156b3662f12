-- One row per delivered record, typed and placed on the reporting calendar; the SQL is
-- macros/staging.sql, which models reading a few requests' deliveries from all of
-- history call with a filter on raw (fct_requests).
{{ staged_request_logs() }}
