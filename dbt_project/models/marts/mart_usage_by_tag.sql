{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Usage tab, Usage by tag key. Grain: grain x period_start x model x provider ('*' = all;
-- the other filter columns are '*' on every row: the tag fact carries model and provider
-- only) x tag_key x tag_value x untagged. One row per value of each key (tag_value NULL
-- for a tag without ':'), and per key one row with untagged = true: the requests of the
-- filter that carry no tag of that key (the filter's requests, from the usage facts,
-- less those carrying the key, each counted once: fct_tag_usage_daily.key_*). A request
-- counts under each of its tags, so the rows of a key do not add up to the filter's
-- total when requests carry two values of it, and the keys together count requests more
-- than once; shares are of the filter's requests and tokens. Requests without any tag
-- are the key '(none)'. Pay-as-you-go only.
{%- set available = ['model', 'provider'] %}
{%- set measures = ['total_tokens', 'input_tokens', 'output_tokens', 'requests', 'spend_usd', 'requests_with_cost'] %}
{%- set key_measures = [] %}
{%- for name in measures %}{% do key_measures.append('key_' ~ name) %}{% endfor %}
with tagged as (
    {{ daily_rows_by_grain(ref('fct_tag_usage_daily'),
                           ['tag_key', 'tag_value'] + available + measures
                           + key_measures) }}
),

totals as (
    select
        grain,
        period_start,
        {{ filter_columns(available=available) }},
        {%- for name in measures %}
        sum({{ name }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from ({{ pay_as_you_go_usage() }}) as by_grain
    {{ group_by_filters(available=available) }}
),

per_value as (
    select
        grain,
        period_start,
        {{ filter_columns(available=available) }},
        tag_key,
        tag_value,
        false as untagged,
        {%- for name in measures %}
        sum({{ name }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from tagged
    {{ group_by_filters(extra=['tag_key', 'tag_value'], available=available) }}
),

per_key as (
    select
        grain,
        period_start,
        {{ filter_columns(available=available) }},
        tag_key,
        {%- for name in measures %}
        sum(key_{{ name }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from tagged
    where tag_key <> {{ no_dimension_value() }}
    {{ group_by_filters(extra=['tag_key'], available=available) }}
),

untagged as (
    select
        {{ filter_key() }},
        per_key.tag_key,
        cast(null as string) as tag_value,
        true as untagged,
        {%- for name in measures %}
        totals.{{ name }} - per_key.{{ name }} as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from per_key
    inner join totals using ({{ filter_key() }})
    where totals.requests > per_key.requests
),

tag_rows as (
    select * from per_value
    union all
    select * from untagged
)

select
    {{ filter_key() }},
    tag_key,
    tag_value,
    untagged,
    cast(tag_rows.total_tokens as bigint) as total_tokens,
    cast(tag_rows.input_tokens as bigint) as input_tokens,
    cast(tag_rows.output_tokens as bigint) as output_tokens,
    cast(tag_rows.requests as bigint) as requests,
    cast(tag_rows.spend_usd as double) as spend_usd,
    cast(tag_rows.requests_with_cost as bigint) as requests_with_cost,
    {{ ratio('tag_rows.requests', 'totals.requests') }} as request_share,
    {{ ratio('tag_rows.total_tokens', 'totals.total_tokens') }} as token_share,
    current_timestamp as built_at
from tag_rows
inner join totals using ({{ filter_key() }})
