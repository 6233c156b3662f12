"""LiteLLM's standard logging payload (`StandardLoggingPayload`, litellm/types/utils.py):
the object LiteLLM hands its custom loggers and writes to S3, GCS or Azure Blob, one per
call. Field by field in docs/sources.md."""

from __future__ import annotations

from ingest.sources.config import SourceFolder
from ingest.sources.dimensions import dimension_fields
from ingest.sources.mapping import Records, billing_mode_sql, mapped_lines_sql
from ingest.sources.sql import (
    quote,
    read_boolean,
    read_epoch,
    read_integer,
    read_number,
    read_string,
    rfc3339,
    shown,
    text_of,
)

USAGE = "metadata.usage_object"
PATHS = [
    "id",
    "litellm_call_id",
    "startTime",
    "endTime",
    "completionStartTime",
    "model",
    "custom_llm_provider",
    "status",
    "stream",
    "prompt_tokens",
    "completion_tokens",
    "response_cost",
    "response_cost_failure_debug_info",
    "request_tags",
    "metadata.user_api_key_hash",
    "metadata.user_api_key_alias",
    "metadata.user_api_key_max_budget",
    "metadata.user_api_key_team_max_budget",
    f"{USAGE}.prompt_tokens_details.cached_tokens",
    f"{USAGE}.prompt_tokens_details.cache_write_tokens",
    f"{USAGE}.prompt_tokens_details.cache_creation_tokens",
    f"{USAGE}.prompt_tokens_details.web_search_requests",
    f"{USAGE}.cache_read_input_tokens",
    f"{USAGE}.cache_creation_input_tokens",
    f"{USAGE}.completion_tokens_details.reasoning_tokens",
    f"{USAGE}.server_tool_use.web_search_requests",
    "standard_built_in_tools_params.web_search_options",
    "error_information.error_code",
    "error_information.error_class",
    "response.choices",
    "cache_hit",
    "saved_cache_cost",
]


def mapping_sql(folder: SourceFolder, records: Records, *, judge_reads: bool = True) -> str:
    # Organization, team, project, end user and tags: where the declaration says
    # (dbt_project.yml `dimensions:`), e.g. metadata.user_api_key_team_id.
    dimensions = dimension_fields("litellm", lambda path: f"r.{path}")
    paths = PATHS + [p for p in dimensions.paths if p not in PATHS]
    call_id = read_string(
        "litellm_call_id", "r.litellm_call_id", non_empty=True, feeds="request_id"
    )
    payload_id = read_string("id", "r.id", non_empty=True, feeds="request_id")
    start = read_epoch("startTime", "r.startTime", required=True)
    end = read_epoch("endTime", "r.endTime", required=True)
    completion_start = read_epoch("completionStartTime", "r.completionStartTime")
    model = read_string("model", "r.model", required=True, non_empty=True, feeds="model")
    provider = read_string("custom_llm_provider", "r.custom_llm_provider", feeds="provider")
    status = read_string("status", "r.status", required=True)
    stream = read_boolean("stream", "r.stream")
    prompt = read_integer("prompt_tokens", "r.prompt_tokens", required=True)
    completion = read_integer("completion_tokens", "r.completion_tokens", required=True)
    cost = read_number("response_cost", "r.response_cost")
    key = read_string(
        "metadata.user_api_key_hash",
        "r.metadata.user_api_key_hash",
        non_empty=True,
        feeds="api_key_id",
    )
    alias = read_string(
        "metadata.user_api_key_alias",
        "r.metadata.user_api_key_alias",
        non_empty=True,
        feeds="api_key_name",
    )
    details = f"r.{USAGE}.prompt_tokens_details"
    cached = read_integer(
        f"{USAGE}.prompt_tokens_details.cached_tokens", f"{details}.cached_tokens"
    )
    cache_read = read_integer(
        f"{USAGE}.cache_read_input_tokens", f"r.{USAGE}.cache_read_input_tokens"
    )
    cache_write = read_integer(
        f"{USAGE}.prompt_tokens_details.cache_write_tokens", f"{details}.cache_write_tokens"
    )
    cache_creation = read_integer(
        f"{USAGE}.prompt_tokens_details.cache_creation_tokens", f"{details}.cache_creation_tokens"
    )
    cache_creation_input = read_integer(
        f"{USAGE}.cache_creation_input_tokens", f"r.{USAGE}.cache_creation_input_tokens"
    )
    reasoning = read_integer(
        f"{USAGE}.completion_tokens_details.reasoning_tokens",
        f"r.{USAGE}.completion_tokens_details.reasoning_tokens",
    )
    searches = read_integer(
        f"{USAGE}.server_tool_use.web_search_requests",
        f"r.{USAGE}.server_tool_use.web_search_requests",
    )
    prompt_searches = read_integer(
        f"{USAGE}.prompt_tokens_details.web_search_requests", f"{details}.web_search_requests"
    )
    # LiteLLM's own response cache: `cache_hit` true when the proxy answered from it (the
    # provider was never called), `saved_cache_cost` what that call would have cost.
    cache_hit = read_boolean("cache_hit", "r.cache_hit")
    saved_cost = read_number("saved_cache_cost", "r.saved_cache_cost")
    # The gateway's own spend limits of the key and of its team when the call was made
    # (the proxy copies UserAPIKeyAuth.max_budget / team_max_budget into the metadata);
    # null for a key or team without one. Offered as budgets (docs/alerts.md).
    key_budget = read_number(
        "metadata.user_api_key_max_budget", "r.metadata.user_api_key_max_budget"
    )
    team_budget = read_number(
        "metadata.user_api_key_team_max_budget", "r.metadata.user_api_key_team_max_budget"
    )

    reads = {
        "call_id": call_id,
        "payload_id": payload_id,
        "start_s": start,
        "end_s": end,
        "completion_start_s": completion_start,
        "model_name": model,
        "provider_name": provider,
        "status_text": status,
        "streamed": stream,
        "prompt": prompt,
        "completion": completion,
        "cost": cost,
        "key_hash": key,
        "key_alias": alias,
        "cached": cached,
        "cache_read": cache_read,
        "cache_write": cache_write,
        "cache_creation": cache_creation,
        "cache_creation_input": cache_creation_input,
        "reasoning": reasoning,
        "searches": searches,
        "prompt_searches": prompt_searches,
        "cache_hit": cache_hit,
        "saved_cost": saved_cost,
        "key_budget": key_budget,
        "team_budget": team_budget,
        **dimensions.reads,
    }
    values = [
        {name: read.value for name, read in reads.items()},
        {
            "request_id": "coalesce(call_id, payload_id)",
            "is_success": "status_text = 'success'",
            "api_key": f"coalesce(key_hash, {quote(folder.api_key_id) if folder.api_key_id else 'NULL'})",
        },
    ]
    folder_key_name = quote(folder.api_key_name) if folder.api_key_name else "NULL"
    first_token_ms = (
        "CASE WHEN coalesce(streamed, false) AND is_success "
        "THEN (completion_start_s - start_s) * 1000.0 END"
    )
    columns = {
        "request_id": "request_id",
        "created_at": rfc3339("to_timestamp(start_s)"),
        "api_key_id": "api_key",
        "api_key_name": f"coalesce(key_alias, CASE WHEN key_hash IS NULL THEN {folder_key_name} END)",
        "model": "model_name",
        # A failure LiteLLM did not route to a provider still counts as a failed request.
        "provider": "coalesce(provider_name, 'unknown')",
        "billing_mode": billing_mode_sql(folder, "api_key", tags="r.request_tags"),
        "status": "CASE WHEN is_success THEN 'success' ELSE 'error' END",
        "http_status": (
            "CASE WHEN NOT is_success AND TRY_CAST(r.error_information.error_code->>'$' AS INTEGER) "
            "BETWEEN 100 AND 599 THEN TRY_CAST(r.error_information.error_code->>'$' AS INTEGER) END"
        ),
        "error_type": f"CASE WHEN NOT is_success THEN nullif({text_of('r.error_information.error_class')}, '') END",
        "finish_reason": "CASE WHEN is_success THEN r.response.choices->>'$[0].finish_reason' END",
        "stream": "coalesce(streamed, false)",
        "input_tokens": "prompt",
        "output_tokens": "completion",
        "cached_input_tokens": "coalesce(cached, cache_read)",
        "cache_write_tokens": "coalesce(cache_write, cache_creation, cache_creation_input)",
        "reasoning_tokens": "reasoning",
        # Web-search calls as the provider counted them; a request that asked for OpenAI's
        # web_search_options searched once.
        "web_search_calls": (
            "coalesce(searches, prompt_searches, CASE WHEN r.standard_built_in_tools_params"
            ".web_search_options IS NOT NULL THEN 1 END)"
        ),
        "latency_ms": "(end_s - start_s) * 1000.0",
        "first_token_ms": first_token_ms,
        # LiteLLM writes 0.0 with response_cost_failure_debug_info when it could not price
        # the call: that cost is unknown, not free.
        "cost_usd": "CASE WHEN r.response_cost_failure_debug_info IS NULL THEN cost END",
        "schema_version": "NULL::BIGINT",
        "served_from_cache": "coalesce(cache_hit, false)",
        # LiteLLM writes saved_cache_cost 0.0 on every call it did not serve from cache.
        "saved_cache_cost_usd": "CASE WHEN coalesce(cache_hit, false) THEN saved_cost END",
        "api_key_max_budget_usd": "key_budget",
        "team_max_budget_usd": "team_budget",
        **dimensions.columns,
    }
    reasons = [
        *dimensions.reasons,
        "CASE WHEN r.litellm_call_id IS NULL AND r.id IS NULL "
        'THEN \'missing required field "litellm_call_id" (or "id")\' END',
        "CASE WHEN status_text NOT IN ('success', 'failure') "
        f"THEN '\"status\" must be success or failure, got \"' || {shown('status_text')} || '\"' END",
        "CASE WHEN is_success AND r.custom_llm_provider IS NULL "
        "THEN 'missing required field \"custom_llm_provider\" (a success names its provider)' END",
        "CASE WHEN provider_name = '' THEN '\"custom_llm_provider\" must not be empty' END",
        "CASE WHEN r.metadata.user_api_key_hash IS NULL AND api_key IS NULL "
        "THEN 'missing required field \"metadata.user_api_key_hash\" (or set api_key_id for the folder)' END",
        'CASE WHEN end_s < start_s THEN \'"endTime" is before "startTime"\' END',
        "CASE WHEN coalesce(streamed, false) AND is_success AND r.completionStartTime IS NULL "
        "THEN 'missing required field \"completionStartTime\" (a streamed success has a first token)' END",
        "CASE WHEN coalesce(streamed, false) AND is_success "
        "AND NOT (completion_start_s BETWEEN start_s AND end_s) "
        'THEN \'"completionStartTime" is not between "startTime" and "endTime"\' END',
    ]
    return mapped_lines_sql(
        records, paths, reads, values, columns, reasons, judge_reads=judge_reads
    )
