{{ config(meta={'dagster': {'ref': {'name': 'fct_usage_daily'}}}) }}
-- docs/metrics.md invariant 2, day level: each daily row = the sums over fct_requests of its
-- day, dimensions (fact_dimensions()) and billing mode (and no group is missing on either side),
-- for the event days the build rebuilt.
{%- set grain = ['event_date'] + fact_dimensions() + ['billing_mode'] %}
with from_requests as (
    select {{ grain | join(', ') }}, count(*) as requests, sum(total_tokens) as total_tokens,
           sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens
    from {{ ref('fct_requests') }}
    where {{ event_date_in_build() }}
    group by all
),

days as (
    select *
    from {{ ref('fct_usage_daily') }}
    where {{ event_date_in_build() }}
)
select *
from from_requests as r
full outer join days as d
    using ({{ grain | join(', ') }})
where r.requests is distinct from d.requests
   or r.total_tokens is distinct from d.total_tokens
   or r.input_tokens is distinct from d.input_tokens
   or r.output_tokens is distinct from d.output_tokens
