-- Grain: one row per landing day. docs/metrics.md invariant 4, "nothing is lost", as a
-- table a user can query: every line read was loaded or rejected, and every loaded
-- record is either its request's kept delivery in fct_requests or a dropped duplicate.
-- A view, so it always describes the warehouse as it is now.

with deliveries as (
    select
        landing_date, request_id, source_file, line_number,
        landing_date in (select landing_date from raw.quality_holds) as held
    from {{ source('raw', 'request_logs') }}
),

ranked as (
    -- The same rule as fct_requests: the latest delivery of a request_id is kept, among
    -- the landing days staging reads (held days, see below, are not).
    select
        landing_date,
        held,
        not held and row_number() over (
            partition by held, request_id
            order by landing_date desc, source_file desc, line_number desc
        ) > 1 as superseded
    from deliveries
),

loaded as (
    select
        landing_date,
        count(*) as rows_loaded,
        count(*) filter (where superseded) as duplicates_dropped,
        -- Records of a landing day a blocking data-quality check rejected: kept in raw,
        -- held out of staging and the facts until a run over the day passes.
        count(*) filter (where held) as held_records
    from ranked
    group by landing_date
),

rejected as (
    select landing_date, count(*) as rows_rejected
    from {{ source('raw', 'request_logs_rejected') }}
    group by landing_date
),

files as (
    select
        landing_date,
        count(*) as files,
        count(error) as unreadable_files,
        sum(rows_loaded) as rows_loaded_per_files,
        sum(rows_rejected) as rows_rejected_per_files
    from {{ source('raw', 'ingested_files') }}
    group by landing_date
),

kept as (
    select
        landing_date,
        count(*) as requests_in_facts,
        count(*) filter (where billing_mode = 'pay_as_you_go') as pay_as_you_go_requests,
        count(*) filter (where billing_mode = 'subscription') as subscription_requests
    from {{ ref('fct_requests') }}
    group by landing_date
),

landing_days as (
    select landing_date from loaded
    union
    select landing_date from rejected
    union
    select landing_date from files
    union
    select landing_date from kept
),

counts as (
    select
        d.landing_date,
        coalesce(f.files, 0) as files,
        coalesce(f.unreadable_files, 0) as unreadable_files,
        coalesce(l.rows_loaded, 0) + coalesce(r.rows_rejected, 0) as records_read,
        coalesce(l.rows_loaded, 0) as rows_loaded,
        coalesce(r.rows_rejected, 0) as rows_rejected,
        coalesce(l.duplicates_dropped, 0) as duplicates_dropped,
        coalesce(l.held_records, 0) as held_records,
        coalesce(k.requests_in_facts, 0) as requests_in_facts,
        coalesce(k.pay_as_you_go_requests, 0) as pay_as_you_go_requests,
        coalesce(k.subscription_requests, 0) as subscription_requests,
        coalesce(f.rows_loaded_per_files, 0) as rows_loaded_per_files,
        coalesce(f.rows_rejected_per_files, 0) as rows_rejected_per_files
    from landing_days as d
    left join loaded as l on l.landing_date = d.landing_date
    left join rejected as r on r.landing_date = d.landing_date
    left join files as f on f.landing_date = d.landing_date
    left join kept as k on k.landing_date = d.landing_date
)

select
    landing_date,
    files,
    unreadable_files,
    records_read,
    rows_loaded,
    rows_rejected,
    duplicates_dropped,
    held_records,
    requests_in_facts,
    pay_as_you_go_requests,
    subscription_requests,
    rows_loaded - duplicates_dropped - held_records - requests_in_facts as unaccounted_records,
    rows_loaded - duplicates_dropped - held_records - requests_in_facts = 0
        and rows_loaded = rows_loaded_per_files
        and rows_rejected = rows_rejected_per_files as reconciles
from counts
