{{ config(meta={'dagster': {'ref': {'name': 'mart_usage_summary'}}}) }}
-- docs/metrics.md invariant 3: for each filter (api key, model, provider), the '*' row of an
-- additive figure = the sum of the rows for each single value, the other filters fixed.
-- Checked where the mart holds the parts: for an all-row whose filter combination plus
-- that filter is a held combination (docs/metrics.md, "Filter combinations").
-- A nightly build checks the periods it rebuilt (macros/test_scope.sql).
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}
{%- set dimensions = filter_dimensions() %}
{%- set measures = ['total_tokens', 'input_tokens', 'output_tokens', 'requests', 'requests_with_cost', 'spend_usd'] %}
{%- for dimension in dimensions %}
{%- set others = dimensions | reject('equalto', dimension) | list %}
select '{{ dimension }}' as summed_over, all_row.grain, all_row.period_start,
       {% for o in others %}all_row.{{ o }}, {% endfor %}
       {% for m in measures %}all_row.{{ m }} as all_{{ m }}, parts.{{ m }} as parts_{{ m }}{{ ", " if not loop.last }}{% endfor %}
from {{ ref('mart_usage_summary') }} as all_row
left join (
    select grain, period_start, {{ others | join(', ') }},
           {% for m in measures %}sum({{ m }}) as {{ m }}{{ ", " if not loop.last }}{% endfor %}
    from {{ ref('mart_usage_summary') }}
    where {{ dimension }} <> '*' and {{ period_in_build() }}
    group by all
) as parts using (grain, period_start, {{ others | join(', ') }})
where all_row.{{ dimension }} = '*' and {{ period_in_build('all_row') }}
  and ({% for held in filter_sets() if dimension in held %}
       ({% for o in others %}all_row.{{ o }} {{ "<>" if o in held else "=" }} '*'{{ " and " if not loop.last }}{% endfor %}){{ " or" if not loop.last }}
       {%- endfor %})
  and ({% for m in measures if m != 'spend_usd' %}all_row.{{ m }} is distinct from parts.{{ m }} or {% endfor %}
       -- Spend is a sum of reals: equal to rounding.
       abs(all_row.spend_usd - coalesce(parts.spend_usd, -1)) > 1e-9 * greatest(1, abs(all_row.spend_usd)))
{{ "union all" if not loop.last }}
{%- endfor %}
