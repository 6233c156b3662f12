{#- Percentiles from mergeable relative-error histograms (the DDSketch idea).

    A positive value x falls in bucket i = ceil(log_gamma(x)), i.e. gamma^(i-1) < x <=
    gamma^i, with gamma = (1 + a) / (1 - a). Bucket i is read back as
    2 * gamma^i / (gamma + 1), which lies within a relative error a of every value of the
    bucket. Zero (and anything not positive) has its own bucket, read back as 0.

    fct_latency_sketch_daily holds, per event day x API key x model x provider x billing
    mode x measure, the count of values in each bucket; fct_latency_sketch_periods adds
    up the counts of the days of each week and month (exactly: they are integers). A mart row
    adds the counts of its period and filter combination the same way and reads a
    percentile from the merged histogram: with n values and rank k = ceil(q * n)
    (nearest rank, 1-based), the answer is the bucket where the running count first
    reaches k. Bucket order is value order, so that bucket holds the exact k-th smallest
    value, and the answer is within a of it. docs/metrics.md states the bound.

    Only sums and window functions over integer bucket indexes: the engine-specific bits
    (logarithm, power, integer types) are the dispatched macros below, so another
    adapter implements those and reuses everything else. -#}

{#- The relative accuracy a. 1%: buckets 2% wide, about 350 of them for values from
    1 ms to 17 minutes. Changing it needs a full refresh of the sketch fact. -#}
{% macro sketch_relative_accuracy() -%}
    {{ return(0.01) }}
{%- endmacro %}

{% macro sketch_gamma() -%}
    {{ return((1 + sketch_relative_accuracy()) / (1 - sketch_relative_accuracy())) }}
{%- endmacro %}

{#- The bucket of zero: below every bucket of a positive value (bucket -32768 would hold
    values near gamma^-32768, about 1e-282). -#}
{% macro sketch_zero_bucket() -%}
    {{ return(-32768) }}
{%- endmacro %}

{#- The measures the sketch fact holds: name -> (value expression over fct_requests, the
    requests it covers). The conditions are the per-model marts' populations, which
    fct_requests defines (macros/derived_fields.sql). -#}
{% macro sketch_measures() -%}
    {{ return({
        'latency_ms': ('latency_ms', 'in_latency_figures'),
        'first_token_ms': ('first_token_ms', 'in_first_token_figures'),
        'throughput_tps': ('throughput_tps', 'in_throughput_figures'),
    }) }}
{%- endmacro %}

{#- The bucket index of a value: integer. -#}
{% macro sketch_bucket(value) -%}
    {{ return(adapter.dispatch('sketch_bucket', 'llm_usage')(value)) }}
{%- endmacro %}

{% macro default__sketch_bucket(value) -%}
    case when {{ value }} > 0
         then cast(ceil(ln({{ value }}) / ln({{ '%.17g' | format(sketch_gamma()) }})) as integer)
         else {{ sketch_zero_bucket() }} end
{%- endmacro %}

{#- The value a bucket index reads back as. -#}
{% macro sketch_bucket_value(bucket) -%}
    {{ return(adapter.dispatch('sketch_bucket_value', 'llm_usage')(bucket)) }}
{%- endmacro %}

{% macro default__sketch_bucket_value(bucket) -%}
    case when {{ bucket }} = {{ sketch_zero_bucket() }} then 0.0
         else 2.0 * power({{ '%.17g' | format(sketch_gamma()) }}, {{ bucket }}) / {{ '%.17g' | format(sketch_gamma() + 1) }} end
{%- endmacro %}

{#- A whole number type wide enough for a count times 10,000 (see sketch_percentiles). -#}
{% macro sketch_count_type() -%}
    {{ return(adapter.dispatch('sketch_count_type', 'llm_usage')()) }}
{%- endmacro %}

{% macro default__sketch_count_type() -%}
    bigint
{%- endmacro %}

{#- The sketch rows of one measure at all three grains (the daily fact's days, the
    period fact's weeks and months), limited on incremental runs to the periods the run
    touches, pay-as-you-go only. Rows are added up per filter combination and bucket
    here, before the grouping sets (the sketch facts also split by billing mode, and
    `model` may be given as an expression such as "'*'" for a figure over all models), so
    the grouping sets work on one histogram per combination and period. -#}
{% macro sketch_by_grain(measure, model='model') -%}
    select
        'day' as grain,
        event_date as period_start,
        {%- for column in filter_dimensions() %}
        {{ model if column == 'model' else column }} as {{ column }},
        {%- endfor %}
        bucket,
        cast(sum(requests) as {{ sketch_count_type() }}) as requests,
        sum(value_sum) as value_sum
    from {{ ref('fct_latency_sketch_daily') }}
    where measure = '{{ measure }}'
      and billing_mode = 'pay_as_you_go'
    {%- if is_incremental() %}
      and event_date in {{ touched_periods('day') }}
    {%- endif %}
    group by all
    union all
    select
        grain,
        period_start,
        {%- for column in filter_dimensions() %}
        {{ model if column == 'model' else column }} as {{ column }},
        {%- endfor %}
        bucket,
        cast(sum(requests) as {{ sketch_count_type() }}) as requests,
        sum(value_sum) as value_sum
    from {{ ref('fct_latency_sketch_periods') }}
    where measure = '{{ measure }}'
      and billing_mode = 'pay_as_you_go'
    {%- if is_incremental() %}
      and {{ in_touched_grain_periods() }}
    {%- endif %}
    group by all
{%- endmacro %}

{#- One histogram per mart row: the sketch rows of one measure (sketch_by_grain) merged
    per filter combination of a per-model breakdown, i.e. the `merged` relation
    sketch_percentiles reads. `model` as in sketch_by_grain ("'*'" for all models). -#}
{% macro merged_sketch(measure, model='model') -%}
    select
        grain,
        period_start,
        {{ filter_columns(breakdown='model') }},
        bucket,
        sum(requests) as requests,
        sum(value_sum) as value_sum
    from ({{ sketch_by_grain(measure, model=model) }}) as sketch
    {{ group_by_filters(breakdown='model', extra=['bucket']) }}
{%- endmacro %}

{#- Percentiles of merged histograms. `merged` is a relation with the key columns, an
    integer `bucket` and `requests` (the bucket's count) and one row per key and bucket.
    Returns one row per key with `requests` (the total), `value_sum` (Σ of the values,
    exact) and one column per fraction, named by `names`.

    Rank k = ceil(q * n): the first bucket whose running count c has c >= q * n. The
    comparison is done in integers, c * 10000 >= round(q * 10000) * n, so no rounding of
    q * n can move the rank.

    Each key is numbered first (`keyed`) and the running count is taken per number: a
    window partitioned by a dozen text and time columns spends most of its time sorting
    them with every row (docs/benchmarks.md, "The hourly latency mart"); the numbers put
    the key back at the end. A key column is never NULL (a missing id is '(none)',
    macros/dimensions.sql), so the plain equality join keeps every row. -#}
{% macro sketch_percentiles(merged, key_columns, fractions, names) -%}
    {%- set key = key_columns | join(', ') -%}
    with keyed as (
        select
            {{ key }},
            row_number() over (order by {{ key }}) as key_number
        from (select distinct {{ key }} from {{ merged }}) as distinct_keys
    )

    select
        {%- for column in key_columns %}
        keyed.{{ column }},
        {%- endfor %}
        percentiles.requests,
        percentiles.value_sum
        {%- for name in names %},
        percentiles.{{ name }}
        {%- endfor %}
    from (
        select
            key_number,
            sum(requests) as requests,
            sum(value_sum) as value_sum
            {%- for fraction in fractions %},
            {{ sketch_bucket_value(
                'min(case when cumulative * 10000 >= ' ~ ((fraction * 10000) | round | int) ~ ' * total then bucket end)'
            ) }} as {{ names[loop.index0] }}
            {%- endfor %}
        from (
            select
                numbered.key_number,
                numbered.bucket,
                numbered.requests,
                numbered.value_sum,
                sum(numbered.requests) over (
                    partition by numbered.key_number order by numbered.bucket
                    rows between unbounded preceding and current row
                ) as cumulative,
                sum(numbered.requests) over (partition by numbered.key_number) as total
            from (
                select
                    keyed.key_number,
                    histogram.bucket,
                    histogram.requests,
                    histogram.value_sum
                from {{ merged }} as histogram
                inner join keyed
                    on {% for column in key_columns %}histogram.{{ column }} = keyed.{{ column }}{{ " and " if not loop.last }}{% endfor %}
            ) as numbered
        ) as running
        group by key_number
    ) as percentiles
    inner join keyed on percentiles.key_number = keyed.key_number
{%- endmacro %}

{#- The key of a mart row: grain, period and the three filter columns. -#}
{% macro mart_key_columns() -%}
    {{ return(['grain', 'period_start'] + filter_dimensions()) }}
{%- endmacro %}

{#- The body of a per-model percentile panel (mart_latency_by_model,
    mart_first_token_latency_by_model): one row per filter combination of the per-model
    breakdown with the count of the measure's values (`count_column`), their exact mean
    avg_<measure> and the sketch-based percentiles p<100 q>_<measure> for q in
    `fractions`. Pay-as-you-go only; a model without values of the measure has no row. -#}
{% macro percentiles_by_model(measure, count_column, fractions) -%}
{%- set names = [] -%}
{%- for fraction in fractions -%}
    {%- do names.append('p' ~ ((fraction * 100) | round | int) ~ '_' ~ measure) -%}
{%- endfor -%}
with merged as (
    {{ merged_sketch(measure) }}
),

figures as (
    {{ sketch_percentiles('merged', mart_key_columns(), fractions, names) }}
)

select
    {%- for column in mart_key_columns() %}
    {{ column }},
    {%- endfor %}
    cast(requests as bigint) as {{ count_column }},
    {{ ratio('value_sum', 'requests') }} as avg_{{ measure }},
    {%- for name in names %}
    {{ name }},
    {%- endfor %}
    current_timestamp as built_at
from figures
{%- endmacro %}
