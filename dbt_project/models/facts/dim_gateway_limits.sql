{#- A view on DuckDB: it is read only when the budgets file turns gateway limits on
    (docs/alerts.md), so builds pay nothing for it. A table on Spark: readers see Spark's
    tables through their Parquet files (ingest/lake.py), and a Spark view is seen by
    Spark alone. -#}
{{ config(materialized='table' if target.type == 'spark' else 'view') }}

-- The gateway's own spend limits: LiteLLM's max_budget of an API key and of a team, as
-- the latest record of the key (or of the team) carries it. Grain: one row per scope
-- ('api_key' or 'team', the dimensions' names) and id whose latest record has a limit; a
-- key whose limit was lifted (its latest record has none) has no row.
with limits as (
    select
        'api_key' as scope,
        api_key_id as scope_id,
        api_key_max_budget_usd as max_budget_usd,
        created_at,
        landing_date,
        source_file,
        line_number
    from {{ ref('stg_gateway__request_logs') }}
    union all
    select
        'team' as scope,
        team_id as scope_id,
        team_max_budget_usd as max_budget_usd,
        created_at,
        landing_date,
        source_file,
        line_number
    from {{ ref('stg_gateway__request_logs') }}
    where team_id <> '(none)'
),

latest as (
    -- The latest record by its time; a request delivered again keeps its latest delivery.
    select
        scope,
        scope_id,
        max_budget_usd,
        created_at as limit_seen_at
    from limits
    qualify row_number() over (
        partition by scope, scope_id
        order by created_at desc, landing_date desc, source_file desc, line_number desc
    ) = 1
)

select
    scope,
    scope_id,
    max_budget_usd,
    limit_seen_at
from latest
where max_budget_usd is not null
