{{ config(unique_key=['grain', 'period_start']) }}
-- depends_on: {{ ref('int_event_dates_touched_by_run') }}

-- Usage tab, headline figures. Grain: grain x period_start x api_key_id x model x
-- provider, with '*' = all. Pay-as-you-go requests only.
with usage as (
    {{ pay_as_you_go_usage() }}
)

select
    grain,
    period_start,
    {{ filter_columns() }},
    cast(sum(total_tokens) as bigint) as total_tokens,
    cast(sum(input_tokens) as bigint) as input_tokens,
    cast(sum(output_tokens) as bigint) as output_tokens,
    cast(sum(requests) as bigint) as requests,
    {{ spend_figures() }},
    current_timestamp as built_at
from usage
{{ group_by_filters() }}
