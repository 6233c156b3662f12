-- The event days (reporting time zone) this build rebuilds, computed once per build:
-- every incremental model limits itself to these days or their weeks and months, so the
-- scan of delivery history happens here and not once per model.
--
-- Every event day holding a delivery of a request delivered on a landing day of the
-- build: late records land on earlier days, and a request delivered again with a
-- corrected created_at moves to another day, whose old day must be rebuilt too or the
-- request would be counted on both.
select distinct event_date
from {{ ref('stg_gateway__request_logs') }}
where request_id in (
    select request_id
    from {{ ref('stg_gateway__request_logs') }}
    where landing_date in (select landing_date from {{ ref('int_landing_days_in_build') }})
)
