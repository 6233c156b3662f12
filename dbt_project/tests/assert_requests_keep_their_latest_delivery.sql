{{ config(meta={'dagster': {'ref': {'name': 'fct_requests'}}}) }}
-- depends_on: {{ ref('stg_gateway__request_logs') }}
-- Issue 11 item 2, checked on every nightly build for the days it rebuilt: each request
-- with a delivery on a rebuilt event day (or a fact row there) has exactly one row in
-- fct_requests, on the event day of its latest surviving delivery across every landing
-- day, with that delivery's landing day and created_at. A correction that moved a
-- request, or a withdrawn re-delivery, must leave nothing behind on the other day.
-- Returns the requests where the fact disagrees.
with in_question as (
    select request_id
    from {{ ref('stg_gateway__request_logs') }}
    where {{ event_date_in_build() }}
    {%- if tests_limited_to_build() %}
      -- A bound on created_at itself, which the scan applies: event_date is worked out
      -- in the view, for every delivery it reads.
      and {{ near_touched_event_dates('created_at') }}
    {%- endif %}
    union
    select request_id
    from {{ ref('fct_requests') }}
    where {{ event_date_in_build() }}
),

latest as (
    select request_id, event_date, landing_date, created_at
    -- Every delivery of those requests, staged after the filter (macros/staging.sql).
    from ({{ staged_request_logs('request_id in (select request_id from in_question)') }}) as staged
    qualify row_number() over (
        partition by request_id
        order by landing_date desc, source_file desc, line_number desc
    ) = 1
),

facts as (
    select request_id, event_date, landing_date, created_at
    from {{ ref('fct_requests') }}
    where request_id in (select request_id from in_question)
)

select
    l.event_date as expected_event_date,
    f.event_date as fact_event_date,
    l.landing_date as expected_landing_date,
    f.landing_date as fact_landing_date,
    coalesce(l.request_id, f.request_id) as request_id
from latest as l
full outer join facts as f
    on l.request_id = f.request_id
   and l.event_date = f.event_date
   and l.landing_date = f.landing_date
   and l.created_at = f.created_at
where l.request_id is null or f.request_id is null
