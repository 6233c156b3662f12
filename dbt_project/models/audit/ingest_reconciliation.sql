-- Grain: one row per landing day. docs/metrics.md invariant 4, "nothing is lost", as a
-- table a user can query: every line the files hold (counted from their bytes, apart
-- from parsing) was loaded or rejected, and every loaded record is its request's kept
-- delivery in fct_requests, a dropped duplicate, quarantined, or held with its day.
-- A view, so it always describes the warehouse as it is now.

with deliveries as (
    select
        delivery.landing_date, delivery.request_id, delivery.source_file, delivery.line_number,
        delivery.landing_date in (select landing_date from raw.quality_holds) as held,
        quarantined.line_number is not null as quarantined
    from {{ source('raw', 'request_logs') }} as delivery
    left join raw.quarantined_records as quarantined
        on delivery.landing_date = quarantined.landing_date
       and delivery.source_file = quarantined.source_file
       and delivery.line_number = quarantined.line_number
),

ranked as (
    -- The same rule as fct_requests: the latest delivery of a request_id is kept, among
    -- the deliveries staging reads (held days and quarantined records, see below, are not).
    select
        landing_date,
        held,
        quarantined and not held as quarantined,
        not (held or quarantined) and row_number() over (
            partition by held or quarantined, request_id
            order by landing_date desc, source_file desc, line_number desc
        ) > 1 as superseded
    from deliveries
),

loaded as (
    select
        landing_date,
        count(*) as rows_loaded,
        count(*) filter (where superseded) as duplicates_dropped,
        -- Records of a landing day held as a whole (a systemic fault): kept in raw, out of
        -- staging and the facts until a run over the day passes.
        count(*) filter (where held) as held_records,
        -- Single records a blocking rule rejected (raw.quarantined_records).
        count(*) filter (where quarantined) as quarantined_records
    from ranked
    group by landing_date
),

rejected as (
    select landing_date, count(*) as rows_rejected
    from {{ source('raw', 'request_logs_rejected') }}
    group by landing_date
),

whole_file_entries as (
    -- One rejected entry per file that could not be read at all (it has no lines).
    -- `path` is a keyword, but raw.ingested_files names the column so.
    select landing_date, source_file as path, count(*) as entries  -- noqa: RF04
    from {{ source('raw', 'request_logs_rejected') }}
    where line_number is null
    group by all
),

file_counts as (
    select
        f.*,
        coalesce(w.entries, 0) as whole_file_entries,
        -- Files loaded before lines were counted count what they loaded and rejected.
        coalesce(f.lines_read, f.rows_loaded + f.rows_rejected - coalesce(w.entries, 0))
            as lines_counted
    from {{ source('raw', 'ingested_files') }} as f
    left join whole_file_entries as w using (landing_date, path)
),

files as (
    select
        landing_date,
        count(*) as files,
        count(error) as unreadable_files,
        sum(lines_counted) as lines_read,
        sum(whole_file_entries) as whole_file_entries,
        sum(rows_loaded) as rows_loaded_per_files,
        sum(rows_rejected) as rows_rejected_per_files,
        -- Files whose lines did not all come out loaded or rejected.
        count(*) filter (
            where lines_counted + whole_file_entries <> rows_loaded + rows_rejected
        ) as files_not_reconciled
    from file_counts
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
        coalesce(f.lines_read, 0) as lines_read,
        coalesce(f.lines_read, 0) + coalesce(f.whole_file_entries, 0) as records_read,
        coalesce(l.rows_loaded, 0) as rows_loaded,
        coalesce(r.rows_rejected, 0) as rows_rejected,
        coalesce(l.duplicates_dropped, 0) as duplicates_dropped,
        coalesce(l.held_records, 0) as held_records,
        coalesce(l.quarantined_records, 0) as quarantined_records,
        coalesce(k.requests_in_facts, 0) as requests_in_facts,
        coalesce(k.pay_as_you_go_requests, 0) as pay_as_you_go_requests,
        coalesce(k.subscription_requests, 0) as subscription_requests,
        coalesce(f.rows_loaded_per_files, 0) as rows_loaded_per_files,
        coalesce(f.rows_rejected_per_files, 0) as rows_rejected_per_files,
        coalesce(f.files_not_reconciled, 0) as files_not_reconciled
    from landing_days as d
    left join loaded as l on d.landing_date = l.landing_date
    left join rejected as r on d.landing_date = r.landing_date
    left join files as f on d.landing_date = f.landing_date
    left join kept as k on d.landing_date = k.landing_date
)

select
    landing_date,
    files,
    unreadable_files,
    lines_read,
    records_read,
    rows_loaded,
    rows_rejected,
    duplicates_dropped,
    held_records,
    quarantined_records,
    requests_in_facts,
    pay_as_you_go_requests,
    subscription_requests,
    files_not_reconciled,
    records_read - rows_loaded - rows_rejected as records_lost_in_reading,
    rows_loaded - duplicates_dropped - held_records - quarantined_records - requests_in_facts
        as unaccounted_records,
    rows_loaded - duplicates_dropped - held_records - quarantined_records - requests_in_facts = 0
        and records_read = rows_loaded + rows_rejected
        and files_not_reconciled = 0
        and rows_loaded = rows_loaded_per_files
        and rows_rejected = rows_rejected_per_files as reconciles
from counts
