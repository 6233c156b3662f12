{{ config(unique_key='event_date') }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Grain: event day x tag x tag_key x tag_value x model x provider x billing mode. A
-- request counts under each of its tags (fct_requests.tags, de-duplicated), so the rows
-- of a day add up to more than its requests; a request without tags counts once, under
-- the tag '(none)'. tag_key is the part of the tag before its first ':' (the whole tag
-- when it has none), tag_value the rest (NULL when there is no ':').
--
-- key_*: the same measures over the requests for which this tag is the first (by name)
-- of its key's tags, so that each request counts once per key: Σ key_requests over a
-- key's values is the number of requests carrying that key at all, and the requests
-- without it ("untagged" for that key, mart_usage_by_tag) are exact.
with tagged as (
    select
        *,
        {{ unnest_list('tags', no_dimension_value()) }} as tag
    from {{ ref('fct_requests') }}
    {%- if is_incremental() %}
    where event_date in {{ touched_periods('day') }}
    {%- endif %}
),

keyed as (
    select
        *,
        case when instr(tag, ':') > 0 then substr(tag, 1, instr(tag, ':') - 1) else tag end as tag_key,
        case when instr(tag, ':') > 0 then substr(tag, instr(tag, ':') + 1) end as tag_value
    from tagged
),

counted as (
    select
        *,
        row_number() over (partition by request_id, tag_key order by tag) = 1 as first_of_key
    from keyed
)

select
    event_date,
    week_start,
    month_start,
    tag,
    tag_key,
    tag_value,
    model,
    provider,
    billing_mode,
    {{ sum_usage_measures(from_request_grain=true, names=breakdown_measures()) }},
    {%- set measures = usage_measures() %}
    {%- for name in breakdown_measures() %}
    cast(sum(case when first_of_key then {{ measures[name] }} else 0 end) as {{ usage_measure_type(name) }})
        as key_{{ name }},
    {%- endfor %}
    current_timestamp as built_at
from counted
group by all
