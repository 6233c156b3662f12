{#- Every mart answers any filter with a plain WHERE: each combination of one-or-all API
    key, model and provider is its own row, '*' standing for "all". CUBE makes the eight
    combinations in one pass; non-additive figures are computed per combination from the
    underlying rows, never summed from other rows.

    A breakdown panel (usage by model, by API key, per provider, per model) passes its
    dimension as `breakdown`: that column keeps its real values, and only the other
    dimensions get '*' rows. -#}

{% macro filter_dimensions() -%}
    {{ return(['api_key_id', 'model', 'provider']) }}
{%- endmacro %}

{% macro filter_columns(breakdown=none) -%}
    {%- for dimension in filter_dimensions() %}
    {%- if dimension == breakdown %}
    {{ dimension }}{{ "," if not loop.last }}
    {%- else %}
    case when grouping({{ dimension }}) = 1 then '*' else {{ dimension }} end as {{ dimension }}{{ "," if not loop.last }}
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- `extra` groups by further columns outside the cube, e.g. the candidate of a ranking
    ("which provider is primary within this filter"). -#}
{% macro group_by_filters(breakdown=none, extra=[]) -%}
    {%- set cubed = filter_dimensions() | reject('equalto', breakdown) | list -%}
    group by grain, period_start
    {%- if breakdown %}, {{ breakdown }}{% endif %}
    {%- for column in extra %}, {{ column }}{% endfor %}, cube({{ cubed | join(', ') }})
{%- endmacro %}

{#- The filter columns that identify one filter combination, e.g. the partition of a
    share ("this model's share of the tokens within this key and provider filter"). -#}
{% macro filter_key(breakdown=none) -%}
    grain, period_start
    {%- for dimension in filter_dimensions() if dimension != breakdown %}, {{ dimension }}{% endfor %}
{%- endmacro %}

{#- part / whole, NULL rather than NaN or infinity when the whole is zero. -#}
{% macro ratio(part, whole) -%}
    cast({{ part }} as double) / nullif({{ whole }}, 0)
{%- endmacro %}

{% macro share_within_filter(column, breakdown) -%}
    {{ ratio(column, 'sum(' ~ column ~ ') over (partition by ' ~ filter_key(breakdown) ~ ')') }}
{%- endmacro %}

{#- The reporting grains a mart unions, each with its usage fact, its latency sketch fact
    (macros/sketch.sql) and the column both carry its period under (fct_requests and the
    daily facts carry the week's and month's too). -#}
{% macro reporting_grains() -%}
    {{ return([
        {'grain': 'day', 'fact': 'fct_usage_daily', 'sketch_fact': 'fct_latency_sketch_daily', 'period': 'event_date'},
        {'grain': 'week', 'fact': 'fct_usage_weekly', 'sketch_fact': 'fct_latency_sketch_weekly', 'period': 'week_start'},
        {'grain': 'month', 'fact': 'fct_usage_monthly', 'sketch_fact': 'fct_latency_sketch_monthly', 'period': 'month_start'},
    ]) }}
{%- endmacro %}

{#- Pay-as-you-go rows of the usage facts (additive figures: sums and counts) at all
    three grains, each tagged with its grain and period_start, limited on incremental
    runs to the periods this run touches. No mart reads request rows: means and picks
    come from these sums, percentiles from the sketch facts (macros/sketch.sql). The
    usage facts differ in their period columns, so their rows are unioned by an explicit
    column list (a plain union all runs on every engine, `union all by name` on DuckDB
    only). -#}
{% macro pay_as_you_go_usage() -%}
    {%- for g in reporting_grains() %}
    select '{{ g.grain }}' as grain, {{ g.period }} as period_start, {{ usage_fact_columns() | join(', ') }}
    from {{ ref(g.fact) }}
    where billing_mode = 'pay_as_you_go'
    {%- if is_incremental() %}
      and {{ g.period }} in {{ touched_periods(g.grain) }}
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The columns every usage fact has: its grain's dimensions and the measures. -#}
{% macro usage_fact_columns() -%}
    {{ return(['api_key_id', 'api_key_name', 'last_request_at', 'model', 'provider', 'billing_mode']
              + usage_measures().keys() | list) }}
{%- endmacro %}

{#- On incremental runs, the rows of a model keyed by (grain, period_start) that belong
    to the periods this run touches; true otherwise. For a mart built partly from
    another mart rather than from the facts. -#}
{% macro in_touched_periods() -%}
    {%- if is_incremental() -%}
    {{ in_touched_grain_periods() }}
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}
