"""Rows of the LiteLLM proxy's spend-log table (`LiteLLM_SpendLogs`,
litellm/proxy/schema.prisma) as a user exports them: CSV or JSON Lines from the database,
or pages of the proxy's `/spend/logs` API. Field by field in docs/sources.md.

In a CSV export every value is text and `metadata` (like `response`,
`proxy_server_request` and `request_tags`) is JSON text; a JSON export may carry those
as JSON or as JSON text. Both are read.
"""

from __future__ import annotations

from ingest.sources.config import SourceFolder
from ingest.sources.dimensions import dimension_fields
from ingest.sources.mapping import Records, billing_mode_sql, mapped_lines_sql
from ingest.sources.sql import (
    as_struct,
    extract,
    kind,
    path_columns,
    quote,
    read_date_time,
    read_integer,
    read_number,
    read_string,
    rfc3339,
    shown,
    text_of,
    unquoted,
)

PATHS = [
    "request_id",
    "api_key",
    "spend",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "completionStartTime",
    "model",
    "custom_llm_provider",
    "status",
    "metadata",
    "request_tags",
    "response",
    "proxy_server_request",
    "cache_hit",
]
# What is read from `metadata` (the proxy's SpendLogsMetadata).
USAGE = "additional_usage_values"
METADATA_PATHS = [
    "user_api_key_alias",
    "status",
    "error_information.error_code",
    "error_information.error_class",
    f"{USAGE}.cache_read_input_tokens",
    f"{USAGE}.cache_creation_input_tokens",
    f"{USAGE}.prompt_tokens_details.cached_tokens",
    f"{USAGE}.prompt_tokens_details.cache_write_tokens",
    f"{USAGE}.completion_tokens_details.reasoning_tokens",
    f"{USAGE}.server_tool_use.web_search_requests",
    "usage_object.prompt_tokens_details.cached_tokens",
    "usage_object.prompt_tokens_details.cache_write_tokens",
    "usage_object.completion_tokens_details.reasoning_tokens",
    "usage_object.server_tool_use.web_search_requests",
]


def _json(value: str) -> str:
    """A JSON value, or the JSON a JSON string holds as text (NULL if that is not JSON)."""
    return f"(CASE WHEN {kind(value)} = 'string' THEN try(CAST({unquoted(value)} AS JSON)) ELSE {value} END)"


def _column_of(path: str) -> str:
    """Where a declared path's value is read: inside `metadata` (JSON or JSON text) from
    the extracted metadata, else from the row."""
    inside = path.removeprefix("metadata.")
    return f"m.{inside}" if inside != path else f"r.{path}"


def mapping_sql(folder: SourceFolder, records: Records, *, judge_reads: bool = True) -> str:
    text = records.values_are_text
    # Organization, team, project, end user and tags: where the declaration says
    # (dbt_project.yml `dimensions:`): team_id, end_user, request_tags columns, and
    # metadata.user_api_key_project_id and the like.
    dimensions = dimension_fields("litellm_spend_logs", _column_of)
    declared = [p for p in dimensions.paths if p not in PATHS]
    paths = PATHS + [p for p in declared if not p.startswith("metadata.")]
    metadata_paths = METADATA_PATHS + [
        inside
        for p in declared
        if (inside := p.removeprefix("metadata.")) != p and inside not in METADATA_PATHS
    ]
    request_id = read_string(
        "request_id", "r.request_id", required=True, non_empty=True, feeds="request_id"
    )
    api_key = read_string("api_key", "r.api_key", feeds="api_key_id")
    spend = read_number("spend", "r.spend", text=text)
    prompt = read_integer("prompt_tokens", "r.prompt_tokens", required=True, text=text)
    completion = read_integer("completion_tokens", "r.completion_tokens", required=True, text=text)
    start = read_date_time("startTime", "r.startTime", required=True)
    end = read_date_time("endTime", "r.endTime", required=True)
    completion_start = read_date_time("completionStartTime", "r.completionStartTime")
    model = read_string("model", "r.model", required=True, non_empty=True, feeds="model")
    provider = read_string("custom_llm_provider", "r.custom_llm_provider", feeds="provider")
    status = read_string("status", "r.status")
    alias = read_string("metadata.user_api_key_alias", "m.user_api_key_alias", feeds="api_key_name")
    meta_status = read_string("metadata.status", "m.status")

    def count(path: str):
        return read_integer(f"metadata.{path}", f"m.{path}", text=text)

    cached = count(f"{USAGE}.cache_read_input_tokens")
    cached_detail = count(f"{USAGE}.prompt_tokens_details.cached_tokens")
    cached_usage = count("usage_object.prompt_tokens_details.cached_tokens")
    cache_write = count(f"{USAGE}.cache_creation_input_tokens")
    cache_write_detail = count(f"{USAGE}.prompt_tokens_details.cache_write_tokens")
    cache_write_usage = count("usage_object.prompt_tokens_details.cache_write_tokens")
    reasoning = count(f"{USAGE}.completion_tokens_details.reasoning_tokens")
    reasoning_usage = count("usage_object.completion_tokens_details.reasoning_tokens")
    searches = count(f"{USAGE}.server_tool_use.web_search_requests")
    searches_usage = count("usage_object.server_tool_use.web_search_requests")

    reads = {
        "id": request_id,
        "key_hash": api_key,
        "spend_usd": spend,
        "prompt": prompt,
        "completion": completion,
        "start_at": start,
        "end_at": end,
        "completion_start_at": completion_start,
        "model_name": model,
        "provider_name": provider,
        "status_column": status,
        "key_alias": alias,
        "status_metadata": meta_status,
        "cached": cached,
        "cached_detail": cached_detail,
        "cached_usage": cached_usage,
        "cache_write": cache_write,
        "cache_write_detail": cache_write_detail,
        "cache_write_usage": cache_write_usage,
        "reasoning": reasoning,
        "reasoning_usage": reasoning_usage,
        "searches": searches,
        "searches_usage": searches_usage,
        **dimensions.reads,
    }
    folder_key = quote(folder.api_key_id) if folder.api_key_id else "NULL"
    folder_key_name = quote(folder.api_key_name) if folder.api_key_name else "NULL"
    values = [
        {
            "metadata_values": extract(_json("r.metadata"), metadata_paths),
            "response": _json("r.response"),
            # The request body, where the proxy stored it, says whether the client streamed.
            "request_stream": (
                f"(CASE {_json('r.proxy_server_request')}->>'$.stream' "
                "WHEN 'true' THEN true WHEN 'false' THEN false END)"
            ),
        },
        # The reads look into it.
        {
            "m": as_struct("metadata_values", metadata_paths),
            **path_columns("m", "metadata_values", metadata_paths),
        },
        {name: read.value for name, read in reads.items()},
        {
            # The proxy's own rule: a row is a failure only when it says so.
            "status_text": "coalesce(status_column, status_metadata, 'success')",
            "api_key": f"coalesce(nullif(key_hash, ''), {folder_key})",
            # LiteLLM sets completionStartTime to endTime for a response it did not stream.
            "streamed_text": "coalesce(request_stream, completion_start_at < end_at, false)",
        },
        {"is_success": "status_text = 'success'", "streamed": "streamed_text"},
    ]
    columns = {
        "request_id": "id",
        "created_at": rfc3339("start_at"),
        "api_key_id": "api_key",
        "api_key_name": f"coalesce(key_alias, CASE WHEN nullif(key_hash, '') IS NULL THEN {folder_key_name} END)",
        "model": "model_name",
        "provider": "coalesce(nullif(provider_name, ''), 'unknown')",
        "billing_mode": billing_mode_sql(folder, "api_key", tags=_json("r.request_tags")),
        "status": "CASE WHEN is_success THEN 'success' ELSE 'error' END",
        "http_status": (
            "CASE WHEN NOT is_success AND TRY_CAST(m.error_information.error_code->>'$' AS INTEGER) "
            "BETWEEN 100 AND 599 THEN TRY_CAST(m.error_information.error_code->>'$' AS INTEGER) END"
        ),
        "error_type": f"CASE WHEN NOT is_success THEN nullif({text_of('m.error_information.error_class')}, '') END",
        "finish_reason": "CASE WHEN is_success THEN response->>'$.choices[0].finish_reason' END",
        "stream": "streamed",
        "input_tokens": "prompt",
        "output_tokens": "completion",
        "cached_input_tokens": "coalesce(cached, cached_detail, cached_usage)",
        "cache_write_tokens": "coalesce(cache_write, cache_write_detail, cache_write_usage)",
        "reasoning_tokens": "coalesce(reasoning, reasoning_usage)",
        "web_search_calls": "coalesce(searches, searches_usage)",
        "latency_ms": "(epoch_us(end_at) - epoch_us(start_at)) / 1000.0",
        "first_token_ms": (
            "CASE WHEN streamed AND is_success "
            "THEN (epoch_us(completion_start_at) - epoch_us(start_at)) / 1000.0 END"
        ),
        "cost_usd": "spend_usd",
        "schema_version": "NULL::BIGINT",
        # The proxy writes cache_hit as text: 'True' when its response cache answered
        # (the provider was never called), 'False', '' or 'None' otherwise. The table
        # keeps no saved cost.
        "served_from_cache": f"coalesce(lower({text_of('r.cache_hit')}) = 'true', false)",
        "saved_cache_cost_usd": "NULL::DOUBLE",
        # The proxy's SpendLogsMetadata keeps no budget of the key or the team.
        "api_key_max_budget_usd": "NULL::DOUBLE",
        "team_max_budget_usd": "NULL::DOUBLE",
        **dimensions.columns,
    }
    reasons = [
        *dimensions.reasons,
        f"CASE WHEN r.metadata IS NOT NULL AND {kind('r.metadata')} IN ('string', 'object') "
        f"AND m IS NULL THEN '\"metadata\" must be a JSON object or JSON text of one' END",
        "CASE WHEN status_text NOT IN ('success', 'failure') "
        f"THEN '\"status\" must be success or failure, got \"' || {shown('status_text')} || '\"' END",
        "CASE WHEN is_success AND nullif(provider_name, '') IS NULL "
        "THEN 'missing required field \"custom_llm_provider\" (a success names its provider)' END",
        "CASE WHEN api_key IS NULL "
        "THEN 'missing required field \"api_key\" (or set api_key_id for the folder)' END",
        'CASE WHEN end_at < start_at THEN \'"endTime" is before "startTime"\' END',
        "CASE WHEN streamed AND is_success AND completion_start_at IS NULL "
        "THEN 'missing required field \"completionStartTime\" (a streamed success has a first token)' END",
        "CASE WHEN streamed AND is_success AND NOT (completion_start_at BETWEEN start_at AND end_at) "
        'THEN \'"completionStartTime" is not between "startTime" and "endTime"\' END',
    ]
    return mapped_lines_sql(
        records, paths, reads, values, columns, reasons, judge_reads=judge_reads
    )
