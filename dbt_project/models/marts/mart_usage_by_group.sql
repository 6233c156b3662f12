{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Usage tab, Usage by Team, and the same figures by organization and by project: one
-- mart for every group dimension, the filter dimensions with a display name other than
-- the API key (which has mart_usage_by_api_key), so that a group dimension added to the
-- declaration appears here with no new model. Grain: grain x period_start x dimension
-- ('organization', 'team', 'project') x group_id (each group with requests; '(none)' for
-- requests that name none) x model x provider ('*' = all). One group dimension at a time
-- (docs/metrics.md, "Filter combinations"), so the other party filters are '*' on every
-- row. Pay-as-you-go requests only.
{%- set filters = var('dimensions') | selectattr('filter') | list %}
{%- set groups = filters | selectattr('name_column') | rejectattr('name', 'equalto', 'api_key') | list %}
{%- set crossed = filters | rejectattr('name_column') | map(attribute='column') | list %}
with usage as (
    {{ pay_as_you_go_usage() }}
),

{%- for group in groups %}

by_{{ group.name }} as (
    select
        grain,
        period_start,
        '{{ group.name }}' as dimension,
        {{ group.column }} as group_id,
        -- The name the group carried on its latest request in the period.
        max_by({{ group.name_column }}, last_request_at) as group_name,
        {{ filter_columns(available=crossed) }},
        cast(sum(total_tokens) as bigint) as total_tokens,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(requests) as bigint) as requests,
        {{ spend_figures() }}
    from usage
    {{ group_by_filters(extra=[group.column], available=crossed) }}
),
{%- endfor %}

per_group as (
    {%- for group in groups %}
    select * from by_{{ group.name }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
)

select
    *,
    {%- set within = 'grain, period_start, dimension, ' ~ crossed | join(', ') %}
    {{ ratio('total_tokens', 'sum(total_tokens) over (partition by ' ~ within ~ ')') }} as token_share,
    {{ ratio('requests', 'sum(requests) over (partition by ' ~ within ~ ')') }} as request_share,
    {{ ratio('spend_usd', 'sum(spend_usd) over (partition by ' ~ within ~ ')') }} as spend_share,
    current_timestamp as built_at
from per_group
