-- The event days (reporting time zone) this build rebuilds, computed once per build:
-- every incremental model limits itself to these days or their weeks and months, so the
-- scan of delivery history happens here and not once per model.
--
-- Every event day holding a delivery of a request delivered on a landing day of the
-- build: late records land on earlier days, and a request delivered again with a
-- corrected created_at moves to another day, whose old day must be rebuilt too or the
-- request would be counted on both. Deliveries a re-load of those landing days took
-- away (raw.replaced_deliveries: a file removed, a record withdrawn or corrected) count
-- too, with the day they were on: raw no longer holds them, yet the facts still do
-- until their day is rebuilt, and an earlier delivery of the same request on another
-- day may now be the one that counts.
--
-- Read from the raw table, not the staging view: finding the other deliveries takes one
-- pass over every request_id in history, and through the view DuckDB also computes the
-- view's columns and hold filter for all of them (4-10 s instead of about 1 s at 31
-- million deliveries). Deliveries of a held landing day, which staging leaves out, may
-- add a day here: rebuilding one day too many is harmless.
with replaced as (
    select request_id, created_at
    from {{ source('raw', 'replaced_deliveries') }}
    where landing_date in (select landing_date from {{ ref('int_landing_days_in_build') }})
),

requests_of_the_build as (
    select request_id
    from {{ source('raw', 'request_logs') }}
    where landing_date in (select landing_date from {{ ref('int_landing_days_in_build') }})
    union
    select request_id from replaced
)

select {{ to_reporting_date('created_at') }} as event_date
from {{ source('raw', 'request_logs') }}
where request_id in (select request_id from requests_of_the_build)
union
select {{ to_reporting_date('created_at') }} as event_date
from replaced
