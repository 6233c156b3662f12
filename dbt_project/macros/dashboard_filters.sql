{#- Every mart answers a filter with a plain WHERE: each filter combination it holds is
    its own row, '*' standing for "all". The combinations are explicit GROUPING SETS,
    filter_sets() (macros/dimensions.sql), derived from the declared dimensions;
    non-additive figures are computed per combination from the underlying rows, never
    summed from other rows.

    A breakdown panel (usage by model, by API key, per provider, per model) passes its
    dimension as `breakdown`: that column keeps its real values in every row, so the
    panel holds the sets that contain it, and only the other dimensions get '*' rows.

    A mart over a fact that carries only some filter columns (the end-user and tag facts:
    model and provider) passes them as `available`: it holds the sets within them, and
    the other filter columns are '*' on every row. -#}

{% macro filter_columns(breakdown=none, available=none) -%}
    {%- set grouped = [] -%}
    {%- for kept in held_filter_sets(breakdown, available) -%}
        {%- do grouped.extend(kept) -%}
    {%- endfor -%}
    {%- for dimension in filter_dimensions() %}
    {%- if dimension not in grouped %}
    '*' as {{ dimension }}{{ "," if not loop.last }}
    {%- elif dimension == breakdown %}
    {{ dimension }}{{ "," if not loop.last }}
    {%- else %}
    case when grouping({{ dimension }}) = 1 then '*' else {{ dimension }} end as {{ dimension }}{{ "," if not loop.last }}
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- The held combinations (filter_sets()) a mart holds: those that contain its breakdown
    and lie within the filter columns its source has. A filter column in none of them is
    '*' on every row of the mart. -#}
{% macro held_filter_sets(breakdown=none, available=none) -%}
    {%- set held = [] -%}
    {%- for kept in filter_sets() -%}
        {%- if (breakdown is none or breakdown in kept)
               and (available is none or kept | reject('in', available) | list | length == 0) -%}
            {%- do held.append(kept) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(held) }}
{%- endmacro %}

{#- `extra` groups by further columns in every set, e.g. the candidate of a ranking
    ("which provider is primary within this filter"). Each set carries grain and
    period_start itself (rather than `group by grain, period_start, grouping sets (...)`),
    the form every engine reads alike. sqlfluff's DuckDB dialect (4.4) cannot parse
    GROUPING SETS, which DuckDB and Spark both run: the noqa keeps that one parse gap
    from failing `make lint`. -#}
{% macro group_by_filters(breakdown=none, extra=[], available=none) -%}
    {%- set fixed = ['grain', 'period_start'] + extra -%}
    {%- set held = held_filter_sets(breakdown, available) -%}
    group by grouping sets ( -- noqa: PRS
    {%- for kept in held %}
        ({{ (fixed + kept) | join(', ') }}){{ "," if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{#- The filter columns that identify one filter combination, e.g. the partition of a
    share ("this model's share of the tokens within this key and provider filter"). -#}
{% macro filter_key(breakdown=none) -%}
    grain, period_start
    {%- for dimension in filter_dimensions() if dimension != breakdown %}, {{ dimension }}{% endfor %}
{%- endmacro %}

{#- The rows of a daily fact (`relation`, with event_date, week_start and month_start)
    once per reporting grain, each with its grain and period_start: a mart sums them per
    period. Limited on incremental runs to the periods this run touches. -#}
{% macro daily_rows_by_grain(relation, columns) -%}
    select
        grains.grain,
        case grains.grain when 'day' then daily.event_date
                          when 'week' then daily.week_start
                          else daily.month_start end as period_start,
        {%- for column in columns %}
        daily.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ relation }} as daily
    cross join (
        select 'day' as grain
        union all
        select 'week' as grain
        union all
        select 'month' as grain
    ) as grains
    where daily.billing_mode = 'pay_as_you_go'
    {%- if is_incremental() %}
      and ((grains.grain = 'day' and daily.event_date in {{ touched_periods('day') }})
           or (grains.grain = 'week' and daily.week_start in {{ touched_periods('week') }})
           or (grains.grain = 'month' and daily.month_start in {{ touched_periods('month') }}))
    {%- endif %}
{%- endmacro %}

{#- part / whole, NULL rather than NaN or infinity when the whole is zero. -#}
{% macro ratio(part, whole) -%}
    cast({{ part }} as double) / nullif({{ whole }}, 0)
{%- endmacro %}

{% macro share_within_filter(column, breakdown) -%}
    {{ ratio(column, 'sum(' ~ column ~ ') over (partition by ' ~ filter_key(breakdown) ~ ')') }}
{%- endmacro %}

{#- The reporting grains of every mart. Day rows come from the daily facts (period
    column event_date), week and month rows from the period facts (fct_usage_periods,
    fct_latency_sketch_periods: grain, period_start). -#}
{% macro reporting_grains() -%}
    {{ return(['day', 'week', 'month']) }}
{%- endmacro %}

{#- Pay-as-you-go rows of the usage facts (additive figures: sums and counts) at all
    three grains, each with its grain and period_start, limited on incremental runs to
    the periods this run touches. No mart reads request rows: means and picks come from
    these sums, percentiles from the sketch facts (macros/sketch.sql). The two facts
    differ in their period columns, so their rows are unioned by an explicit column list
    (a plain union all runs on every engine, `union all by name` on DuckDB only). -#}
{% macro pay_as_you_go_usage() -%}
    select 'day' as grain, event_date as period_start, {{ usage_fact_columns() | join(', ') }}
    from {{ ref('fct_usage_daily') }}
    where billing_mode = 'pay_as_you_go'
    {%- if is_incremental() %}
      and event_date in {{ touched_periods('day') }}
    {%- endif %}
    union all
    select grain, period_start, {{ usage_fact_columns() | join(', ') }}
    from {{ ref('fct_usage_periods') }}
    where billing_mode = 'pay_as_you_go'
    {%- if is_incremental() %}
      and {{ in_touched_grain_periods() }}
    {%- endif %}
{%- endmacro %}

{#- The columns every usage fact has: its grain's dimensions, their names and the
    measures. -#}
{% macro usage_fact_columns() -%}
    {{ return(fact_dimensions() + dimension_name_columns() + ['last_request_at', 'billing_mode']
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
