{#- Every mart answers any filter with a plain WHERE: each combination of one-or-all API
    key, model and provider is its own row, '*' standing for "all". CUBE makes the eight
    combinations in one pass; non-additive figures are computed per combination from the
    underlying rows, never summed from other rows. -#}

{% macro filter_dimensions() -%}
    {{ return(['api_key_id', 'model', 'provider']) }}
{%- endmacro %}

{% macro filter_columns() -%}
    {%- for dimension in filter_dimensions() %}
    case when grouping({{ dimension }}) = 1 then '*' else {{ dimension }} end as {{ dimension }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro group_by_filters() -%}
    group by grain, period_start, cube({{ filter_dimensions() | join(', ') }})
{%- endmacro %}

{#- The (grain, source, period column) triples a mart unions. Facts at day, week and
    month grain carry the same measures under these period columns. -#}
{% macro reporting_grains() -%}
    {{ return([
        {'grain': 'day', 'fact': 'fct_usage_daily', 'period': 'event_date'},
        {'grain': 'week', 'fact': 'fct_usage_weekly', 'period': 'week_start'},
        {'grain': 'month', 'fact': 'fct_usage_monthly', 'period': 'month_start'},
    ]) }}
{%- endmacro %}

{#- Pay-as-you-go rows of the usage facts at all three grains, limited on incremental
    runs to the periods this run touches. -#}
{% macro pay_as_you_go_usage() -%}
    {%- for g in reporting_grains() %}
    select '{{ g.grain }}' as grain, {{ g.period }} as period_start, *
    from {{ ref(g.fact) }}
    where billing_mode = 'pay_as_you_go'
    {%- if is_incremental() %}
      and {{ g.period }} in {{ touched_periods(g.grain) }}
    {%- endif %}
    {{ "union all by name" if not loop.last }}
    {%- endfor %}
{%- endmacro %}
