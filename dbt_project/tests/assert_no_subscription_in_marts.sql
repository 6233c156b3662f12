{{ config(meta={'dagster': {'ref': {'name': 'mart_usage_summary'}}}) }}
-- depends_on: {{ ref('fct_usage_daily') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}
-- docs/metrics.md invariant 5: the marts count pay-as-you-go requests only. Each period's
-- all-filters row must equal the pay-as-you-go requests in it; a subscription request
-- leaking into the mart would make it larger.
-- Over all of history (the weekly audit, a full refresh) every period is counted from
-- fct_requests. A nightly build checks the periods it rebuilt: its days from
-- fct_requests, its weeks and months from the daily fact's pay-as-you-go rows (each day
-- of which assert_days_sum_their_requests checked against fct_requests when it was
-- built), so that the check does not read a month of requests every night.
{%- set periods = {'day': 'event_date', 'week': 'week_start', 'month': 'month_start'} %}
{%- set limited = tests_limited_to_build() %}
with expected as (
    {%- for grain, column in periods.items() %}
    {%- if limited and grain != 'day' %}
    select '{{ grain }}' as grain, {{ column }} as period_start,
           sum(requests) as requests, sum(total_tokens) as total_tokens
    from {{ ref('fct_usage_daily') }}
    where billing_mode = 'pay_as_you_go'
      and {{ column }} in {{ touched_periods(grain) }}
    group by all
    {%- else %}
    select '{{ grain }}' as grain, {{ column }} as period_start,
           count(*) as requests, sum(total_tokens) as total_tokens
    from {{ ref('fct_requests') }}
    where billing_mode = 'pay_as_you_go'
      and {{ event_date_in_build() }}
    group by all
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
),
mart as (
    select grain, period_start, requests, total_tokens
    from {{ ref('mart_usage_summary') }}
    where {% for column in filter_dimensions() %}{{ column }} = '*' and {% endfor %}true
      and {{ period_in_build() }}
)
select *
from expected as e
full outer join mart as m using (grain, period_start)
where e.requests is distinct from m.requests
   or e.total_tokens is distinct from m.total_tokens
