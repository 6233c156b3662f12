{{ config(meta={'dagster': {'ref': {'name': 'mart_usage_summary'}}}) }}
-- docs/metrics.md invariant 5: the marts count pay-as-you-go requests only. Each period's
-- all-filters row must equal the pay-as-you-go requests of fct_requests in it; a
-- subscription request leaking into the mart would make it larger.
{%- set periods = {'day': 'event_date', 'week': 'week_start', 'month': 'month_start'} %}
with expected as (
    {%- for grain, column in periods.items() %}
    select '{{ grain }}' as grain, {{ column }} as period_start,
           count(*) as requests, sum(total_tokens) as total_tokens
    from {{ ref('fct_requests') }}
    where billing_mode = 'pay_as_you_go'
    group by all
    {{ "union all" if not loop.last }}
    {%- endfor %}
),
mart as (
    select grain, period_start, requests, total_tokens
    from {{ ref('mart_usage_summary') }}
    where api_key_id = '*' and model = '*' and provider = '*'
)
select *
from expected as e
full outer join mart as m using (grain, period_start)
where e.requests is distinct from m.requests
   or e.total_tokens is distinct from m.total_tokens
