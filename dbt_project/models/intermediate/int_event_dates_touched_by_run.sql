-- The event days (reporting time zone) this run rebuilds, computed once per run: every
-- incremental model limits itself to these days or their weeks and months, so the scan
-- of delivery history happens here and not once per model.
--
-- Every event day holding a delivery of a request delivered in the landing window: late
-- records land on earlier days, and a request delivered again with a corrected
-- created_at moves to another day, whose old day must be rebuilt too or the request
-- would be counted on both. With dbt's default vars (no window) this is every day.
select distinct event_date
from {{ ref('stg_gateway__request_logs') }}
where request_id in (
    select request_id
    from {{ ref('stg_gateway__request_logs') }}
    where {{ in_landing_window() }}
)
