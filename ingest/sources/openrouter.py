"""OpenRouter generation records: the objects its generation endpoint returns, one per
generation (`GenerationResponseData` in the official `openrouter` SDK), alone or inside
the endpoint's `{"data": ...}` envelope. They name no API key: the folder's settings say
whose they are. Field by field in docs/sources.md."""

from __future__ import annotations

from ingest.sources.config import SourceFolder
from ingest.sources.dimensions import dimension_fields
from ingest.sources.mapping import Records, billing_mode_sql, mapped_lines_sql
from ingest.sources.sql import (
    quote,
    read_boolean,
    read_date_time,
    read_integer,
    read_number,
    read_string,
    rfc3339,
)

PATHS = [
    "id",
    "created_at",
    "model",
    "provider_name",
    "streamed",
    "cancelled",
    "finish_reason",
    "native_finish_reason",
    "tokens_prompt",
    "tokens_completion",
    "native_tokens_prompt",
    "native_tokens_completion",
    "native_tokens_cached",
    "native_tokens_reasoning",
    "num_search_results",
    "latency",
    "generation_time",
    "total_cost",
    "is_byok",
]


def mapping_sql(folder: SourceFolder, records: Records, *, judge_reads: bool = True) -> str:
    text = records.values_are_text
    # The end user (external_user), where the declaration says (dbt_project.yml).
    dimensions = dimension_fields("openrouter", lambda path: f"r.{path}")
    paths = PATHS + [p for p in dimensions.paths if p not in PATHS]
    reads = {
        "generation_id": read_string(
            "id", "r.id", required=True, non_empty=True, feeds="request_id"
        ),
        "created": read_date_time("created_at", "r.created_at", required=True),
        "model_name": read_string("model", "r.model", required=True, non_empty=True, feeds="model"),
        "provider_name": read_string("provider_name", "r.provider_name", feeds="provider"),
        "streamed": read_boolean("streamed", "r.streamed", text=text),
        "cancelled": read_boolean("cancelled", "r.cancelled", text=text),
        "finish": read_string("finish_reason", "r.finish_reason", feeds="finish_reason"),
        "native_finish": read_string(
            "native_finish_reason", "r.native_finish_reason", feeds="error_type"
        ),
        "prompt": read_integer("tokens_prompt", "r.tokens_prompt", text=text),
        "completion": read_integer("tokens_completion", "r.tokens_completion", text=text),
        "native_prompt": read_integer("native_tokens_prompt", "r.native_tokens_prompt", text=text),
        "native_completion": read_integer(
            "native_tokens_completion", "r.native_tokens_completion", text=text
        ),
        "cached": read_integer("native_tokens_cached", "r.native_tokens_cached", text=text),
        "reasoning": read_integer(
            "native_tokens_reasoning", "r.native_tokens_reasoning", text=text
        ),
        "search_results": read_integer("num_search_results", "r.num_search_results", text=text),
        "latency_total": read_number("latency", "r.latency", required=True, text=text),
        "generation": read_number("generation_time", "r.generation_time", text=text),
        "cost": read_number("total_cost", "r.total_cost", text=text),
        "byok": read_boolean("is_byok", "r.is_byok", text=text),
        **dimensions.reads,
    }
    values = [
        {name: read.value for name, read in reads.items()},
        {
            # An error is what OpenRouter's normalized finish_reason says; a generation
            # the client cancelled did not succeed either.
            "is_success": "NOT (coalesce(finish, '') = 'error' OR coalesce(cancelled, false))",
            "is_streamed": "coalesce(streamed, false)",
        },
    ]
    columns = {
        "request_id": "generation_id",
        "created_at": rfc3339("created"),
        "api_key_id": quote(folder.api_key_id or ""),
        "api_key_name": quote(folder.api_key_name) if folder.api_key_name else "NULL::VARCHAR",
        "model": "model_name",
        "provider": "coalesce(nullif(provider_name, ''), 'unknown')",
        "billing_mode": billing_mode_sql(
            folder, quote(folder.api_key_id or ""), byok="coalesce(byok, false)"
        ),
        "status": "CASE WHEN is_success THEN 'success' ELSE 'error' END",
        "http_status": "NULL::BIGINT",
        "error_type": (
            "CASE WHEN is_success THEN NULL WHEN coalesce(cancelled, false) THEN 'cancelled' "
            "ELSE coalesce(nullif(native_finish, ''), 'error') END"
        ),
        "finish_reason": "CASE WHEN is_success THEN finish END",
        "stream": "is_streamed",
        # The provider's own (native) counts are what is billed and what the cached and
        # reasoning counts are parts of; OpenRouter's normalized counts stand in where
        # they are missing. A generation without counts (a failure) used no tokens.
        "input_tokens": "coalesce(native_prompt, prompt, 0)",
        "output_tokens": "coalesce(native_completion, completion, 0)",
        "cached_input_tokens": "cached",
        "cache_write_tokens": "NULL::BIGINT",
        "reasoning_tokens": "reasoning",
        # One web search returns num_search_results results.
        "web_search_calls": "CASE WHEN search_results > 0 THEN 1 ELSE 0 END",
        "latency_ms": "latency_total",
        # latency is the whole request, generation_time the part spent generating: the
        # first token came when generation began.
        "first_token_ms": "CASE WHEN is_streamed AND is_success THEN latency_total - generation END",
        "cost_usd": "cost",
        "schema_version": "NULL::BIGINT",
        # OpenRouter has no response cache of its own: every generation reached a provider.
        "served_from_cache": "false",
        "saved_cache_cost_usd": "NULL::DOUBLE",
        # OpenRouter's records carry no spend limit.
        "api_key_max_budget_usd": "NULL::DOUBLE",
        "team_max_budget_usd": "NULL::DOUBLE",
        **dimensions.columns,
    }
    reasons = [
        *dimensions.reasons,
        "CASE WHEN is_success AND nullif(provider_name, '') IS NULL "
        "THEN 'missing required field \"provider_name\" (a success names its provider)' END",
        "CASE WHEN is_streamed AND is_success AND r.generation_time IS NULL "
        "THEN 'missing required field \"generation_time\" (a streamed success has a first token)' END",
        "CASE WHEN is_streamed AND is_success AND generation > latency_total "
        'THEN \'"generation_time" is longer than "latency"\' END',
    ]
    return mapped_lines_sql(
        records, paths, reads, values, columns, reasons, judge_reads=judge_reads
    )
