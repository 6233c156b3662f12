"""Real gateway records for the source adapters' tests, made by the gateways' own client
code, and what each record should become, written from docs/sources.md in plain Python
(sharing no code with the adapters' SQL).

- LiteLLM: `litellm.completion(..., mock_response=...)` runs LiteLLM's whole logging
  path offline; a custom logger keeps each `standard_logging_object`, what LiteLLM's
  bucket loggers write.
- LiteLLM spend logs: the proxy's rows (`LiteLLM_SpendLogs`), built from those payloads
  the way the proxy builds them (litellm/proxy/spend_tracking/spend_tracking_utils.py),
  with its column and metadata names checked against LiteLLM's own types.
- OpenRouter: records built and validated by the `openrouter` SDK's
  `GenerationResponseData`.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import time
from datetime import UTC, datetime

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of prices

KEY_A = {
    "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
    "user_api_key_alias": "prod-chat",
}
KEY_B = {
    "user_api_key_hash": "5e2b51ef1b8d4b1fd0a7a1d0a4b5d2f1e44c8a1c0c4b0f8a1bd7b0d4e1a2c3b4",
    "user_api_key_alias": "batch-jobs",
}
PLAN_TAG = "plan"  # a request tag the tests declare as subscription usage
# Who spent it (issue 25), as a LiteLLM proxy puts it in the metadata of a key's call: the
# key's organization, team and project, the end user, and the request's tags.
SEARCH_TEAM = {
    "user_api_key_org_id": "org-acme",
    "user_api_key_org_alias": "Acme Corp",
    "user_api_key_team_id": "team-search",
    "user_api_key_team_alias": "Search",
    "user_api_key_project_id": "proj-answers",
    "user_api_key_project_alias": "Answers",
    "user_api_key_end_user_id": "customer-17",
    "tags": ["env:prod", "feature:search"],
}
# No alias, no organization, no tags. (LiteLLM's SDK takes the end user from this key
# only, not from the OpenAI `user` parameter: the proxy copies `user` here.)
BATCH_TEAM = {"user_api_key_team_id": "team-batch", "user_api_key_end_user_id": "customer-9"}


_LOGGER = None


def _bucket_logger():
    """One logger for the process: LiteLLM keeps the callbacks it was first given."""
    global _LOGGER
    if _LOGGER is None:
        import litellm
        from litellm.integrations.custom_logger import CustomLogger

        class BucketLogger(CustomLogger):
            """Keeps what LiteLLM's S3 / GCS / Azure loggers upload: the standard logging object."""

            written: list[dict] = []

            def log_success_event(self, kwargs, response_obj, start_time, end_time):
                self.written.append(copy.deepcopy(kwargs["standard_logging_object"]))

            log_failure_event = log_success_event

        _LOGGER = BucketLogger()
        litellm.callbacks = [_LOGGER]
    return _LOGGER


def litellm_payloads() -> list[dict]:
    """Standard logging payloads of several models and providers, streamed and not, with
    cached, cache-write and reasoning tokens, web search, an unpriced model and failures."""
    from litellm import ModelResponse, Usage

    def cached_reply(model: str) -> ModelResponse:
        return ModelResponse(
            model=model,
            choices=[
                {
                    "message": {"role": "assistant", "content": "From the cache."},
                    "finish_reason": "length",
                    "index": 0,
                }
            ],
            usage=Usage(
                prompt_tokens=1200,
                completion_tokens=300,
                total_tokens=1500,
                prompt_tokens_details={"cached_tokens": 1000, "cache_creation_tokens": 100},
                completion_tokens_details={"reasoning_tokens": 120},
                server_tool_use={"web_search_requests": 2},
            ),
        )

    messages = [{"role": "user", "content": "Hello"}]
    calls = [
        dict(model="gpt-4o-mini", mock_response="Hi there.", metadata={**KEY_A, **SEARCH_TEAM}),
        dict(model="gpt-4o-mini", mock_response="Hi again.", metadata={**KEY_B, **BATCH_TEAM}),
        dict(
            model="anthropic/claude-sonnet-4-5",
            mock_response=cached_reply("claude-sonnet-4-5"),
            metadata=KEY_A,
        ),
        dict(
            model="anthropic/claude-3-5-haiku-20241022",
            mock_response="Streamed.",
            stream=True,
            metadata=KEY_B,
        ),
        dict(
            model="gemini/gemini-2.0-flash", mock_response="Unpriced.", stream=True, metadata=KEY_A
        ),
        dict(
            model="gpt-4o-search-preview",
            mock_response="Found it.",
            metadata=KEY_A,
            web_search_options={"search_context_size": "low"},
        ),
        dict(
            model="gpt-4o-mini",
            mock_response="On the plan.",
            metadata={**KEY_B, "tags": [PLAN_TAG, "env:staging"]},
        ),
        dict(
            model="gpt-4o-mini",
            mock_response=Exception("upstream is down"),
            metadata={**KEY_A, **SEARCH_TEAM},
        ),
        dict(
            model="anthropic/claude-sonnet-4-5",
            mock_response=Exception("overloaded"),
            stream=True,
            metadata=KEY_B,
        ),
    ]
    return litellm_calls([{"messages": messages, **call} for call in calls])


def litellm_calls(calls: list[dict]) -> list[dict]:
    """The standard logging payload of each call made through the real LiteLLM client
    (`litellm.completion`'s keyword arguments, with a mock response)."""
    import litellm

    written = _bucket_logger().written = []
    for call in calls:
        try:
            response = litellm.completion(**call)
            if call.get("stream"):
                for _ in response:
                    pass
        except Exception:  # the mocked failures: LiteLLM has logged them
            pass
    deadline = time.monotonic() + 30
    while len(written) < len(calls) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(written) == len(calls), f"LiteLLM logged {len(written)} of {len(calls)} calls"
    return [json.loads(json.dumps(p, default=str)) for p in written]


# The error class docs/metrics.md ("Error classes") gives each of LiteLLM's exceptions, by
# the class name LiteLLM logs (error_information.error_class) and its status.
LITELLM_ERROR_CLASSES = {
    "RateLimitError": "rate_limited",
    "Timeout": "timeout",
    "BadRequestError": "bad_request",
    "AuthenticationError": "auth",
    "ContentPolicyViolationError": "content_filtered",
    "InternalServerError": "provider_error",
    "ServiceUnavailableError": "provider_error",
    "APIConnectionError": "provider_error",
}


def litellm_failure_and_cache_payloads() -> list[dict]:
    """Standard logging payloads of failures of each kind, raised by the real client with
    `mock_response` exceptions (rate limit, timeout, bad request, authentication, content
    policy, server error), and a call answered by LiteLLM's in-process response cache:
    the same call twice with the cache on, the second a cache hit (cache_hit true,
    response_cost 0, saved_cache_cost what the call cost)."""
    import litellm
    from litellm.caching.caching import Cache

    written = _bucket_logger().written = []
    messages = [{"role": "user", "content": "Hello"}]
    model = "gpt-4o-mini"
    raised = [
        litellm.RateLimitError(message="slow down", llm_provider="openai", model=model),
        litellm.Timeout(message="took too long", llm_provider="openai", model=model),
        litellm.BadRequestError(message="context too long", llm_provider="openai", model=model),
        litellm.AuthenticationError(message="invalid key", llm_provider="openai", model=model),
        litellm.ContentPolicyViolationError(message="flagged", llm_provider="openai", model=model),
        litellm.InternalServerError(message="boom", llm_provider="openai", model=model),
    ]
    for exception in raised:
        try:
            litellm.completion(
                model=model, messages=messages, mock_response=exception, metadata=KEY_A
            )
        except Exception:  # the mocked failures: LiteLLM has logged them
            pass
    calls = len(raised) + 2
    litellm.cache = Cache()  # LiteLLM's in-process ("local") response cache
    try:
        for _ in range(2):
            litellm.completion(
                model=model,
                messages=[{"role": "user", "content": "Answer me from the cache"}],
                # Long enough that its millisecond answer reads as an implausible throughput.
                mock_response="The cached answer, word for word. " * 20,
                metadata={**KEY_B, **BATCH_TEAM},
                caching=True,
            )
    finally:
        litellm.cache = None
    deadline = time.monotonic() + 30
    while len(written) < calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(written) == calls, f"LiteLLM logged {len(written)} of {calls} calls"
    payloads = [json.loads(json.dumps(p, default=str)) for p in written]
    # The first call is a miss (LiteLLM logs cache_hit None), the second the hit.
    assert [p.get("cache_hit") is True for p in payloads[-2:]] == [False, True], "no cache hit"
    return payloads


def dimensions_from_payload(p: dict) -> dict:
    """The raw dimension columns docs/sources.md says a standard logging payload gives."""
    meta = p["metadata"]
    return {
        "organization_id": meta.get("user_api_key_org_id") or None,
        "organization_name": meta.get("user_api_key_org_alias") or None,
        "team_id": meta.get("user_api_key_team_id") or None,
        "team_name": meta.get("user_api_key_team_alias") or None,
        "project_id": meta.get("user_api_key_project_id") or None,
        "project_name": meta.get("user_api_key_project_alias") or None,
        "end_user_id": p.get("end_user") or meta.get("user_api_key_end_user_id") or None,
        "tags": p["request_tags"],
    }


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def expected_from_payload(p: dict) -> dict:
    """The fact row docs/sources.md says a standard logging payload becomes."""
    success = p["status"] == "success"
    stream = bool(p.get("stream"))
    usage = p["metadata"].get("usage_object") or {}
    details = usage.get("prompt_tokens_details") or {}
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    searches = (usage.get("server_tool_use") or {}).get("web_search_requests")
    if searches is None and (p.get("standard_built_in_tools_params") or {}).get(
        "web_search_options"
    ):
        searches = 1
    error = p.get("error_information") or {}
    code = error.get("error_code")
    choices = (p.get("response") or {}).get("choices") or [{}]
    return {
        "request_id": p["litellm_call_id"],
        "created_at": _utc(p["startTime"]),
        "api_key_id": p["metadata"]["user_api_key_hash"],
        "api_key_name": p["metadata"]["user_api_key_alias"],
        "model": p["model"],
        "provider": p["custom_llm_provider"],
        "billing_mode": "subscription" if PLAN_TAG in p["request_tags"] else "pay_as_you_go",
        "status": "success" if success else "error",
        "http_status": None if success or not str(code).isdigit() else int(code),
        "error_type": None if success else (error.get("error_class") or None),
        "finish_reason": choices[0].get("finish_reason") if success else None,
        "stream": stream,
        "input_tokens": p["prompt_tokens"],
        "output_tokens": p["completion_tokens"],
        "cached_input_tokens": details.get("cached_tokens") or 0,
        "cache_write_tokens": details.get("cache_write_tokens")
        or details.get("cache_creation_tokens")
        or 0,
        "reasoning_tokens": reasoning or 0,
        "web_search_calls": searches or 0,
        "latency_ms": (p["endTime"] - p["startTime"]) * 1000.0,
        "first_token_ms": (p["completionStartTime"] - p["startTime"]) * 1000.0
        if stream and success
        else None,
        "cost_usd": None if p.get("response_cost_failure_debug_info") else p["response_cost"],
        "error_class": None if success else LITELLM_ERROR_CLASSES[error["error_class"]],
        "served_from_cache": p.get("cache_hit") is True,
        "saved_cache_cost_usd": p["saved_cache_cost"] if p.get("cache_hit") is True else None,
    }


# ------------------------------------------------------------------ LiteLLM spend logs


def spend_log_row(p: dict) -> dict:
    """The proxy's LiteLLM_SpendLogs row for a call, as get_logging_payload builds it
    (its `metadata` is the proxy's SpendLogsMetadata, stored as JSON)."""
    usage = p["metadata"].get("usage_object") or {}
    additional = {
        k: v
        for k, v in usage.items()
        if k not in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
    details = additional.get("prompt_tokens_details") or {}
    if details.get("cached_tokens"):
        additional["cache_read_input_tokens"] = details["cached_tokens"]
    if details.get("cache_write_tokens") or details.get("cache_creation_tokens"):
        additional["cache_creation_input_tokens"] = (
            details.get("cache_write_tokens") or details["cache_creation_tokens"]
        )
    error = dict(p.get("error_information") or {})
    error.pop("traceback", None)
    metadata = {
        "user_api_key": p["metadata"]["user_api_key_hash"],
        "user_api_key_alias": p["metadata"]["user_api_key_alias"],
        "status": p["status"],
        "error_information": error if p["status"] == "failure" else None,
        "usage_object": usage,
        "additional_usage_values": additional,
        "litellm_call_id": p["litellm_call_id"],
        # The key's team and project, as the proxy copies them from the call's metadata.
        **{
            k: p["metadata"].get(k)
            for k in (
                "user_api_key_team_id",
                "user_api_key_team_alias",
                "user_api_key_project_id",
                "user_api_key_project_alias",
                "user_api_key_org_id",
            )
        },
    }
    # A cache hit repeats the cached response's id: the proxy makes it unique
    # (get_logging_payload, "SpendLogs does not allow duplicate request_id").
    request_id = f"{p['id']}_cache_hit{p['endTime']}" if p.get("cache_hit") is True else p["id"]
    return {
        "request_id": request_id,
        "call_type": p["call_type"],
        "api_key": p["metadata"]["user_api_key_hash"],
        "spend": p["response_cost"],
        "total_tokens": p["total_tokens"],
        "prompt_tokens": p["prompt_tokens"],
        "completion_tokens": p["completion_tokens"],
        "startTime": _utc(p["startTime"]),
        "endTime": _utc(p["endTime"]),
        "completionStartTime": _utc(p["completionStartTime"]),
        "model": p["model"],
        "model_group": p.get("model_group") or "",
        "custom_llm_provider": p["custom_llm_provider"] or "",
        "metadata": metadata,
        "request_tags": p["request_tags"],
        "status": p["status"],
        "litellm_call_id": p["litellm_call_id"],
        # get_logging_payload: "" where the call had none.
        "team_id": p["metadata"].get("user_api_key_team_id") or "",
        "organization_id": p["metadata"].get("user_api_key_org_id") or "",
        "end_user": p.get("end_user") or p["metadata"].get("user_api_key_end_user_id") or "",
        # get_logging_payload: str() of the call's cache_hit ("True", "False", "None").
        "cache_hit": str(p.get("cache_hit")),
    }


def spend_log_columns() -> tuple[set[str], set[str]]:
    """LiteLLM's own names: the columns of LiteLLM_SpendLogs (schema.prisma) and the keys
    of its SpendLogsMetadata."""
    import re
    from importlib import resources

    from litellm.proxy._types import SpendLogsMetadata, SpendLogsPayload

    schema = resources.files("litellm.proxy").joinpath("schema.prisma").read_text()
    table = re.search(r"model LiteLLM_SpendLogs \{(.*?)\n\}", schema, re.S).group(1)
    columns = {
        line.split()[0]
        for line in table.splitlines()
        if line.strip() and not line.strip().startswith("@@")
    }
    return columns & set(SpendLogsPayload.__annotations__), set(SpendLogsMetadata.__annotations__)


def spend_logs_csv(rows: list[dict]) -> str:
    """A database export (`COPY ... TO STDOUT WITH CSV HEADER`): timestamps as Postgres
    writes a timestamp(3) column, JSON columns as JSON text."""
    out = io.StringIO()
    names = list(rows[0])
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: (
                    v.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                    if isinstance(v, datetime)
                    else json.dumps(v)
                    if isinstance(v, (dict, list))
                    else v
                )
                for k, v in row.items()
            }
        )
    return out.getvalue()


def spend_logs_jsonl(rows: list[dict], metadata_as_text: bool = True) -> str:
    """A JSON export: ISO times with an offset; metadata as JSON text (as the API returns
    a Json column read back as text) or as an object."""
    lines = []
    for row in rows:
        out = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
        if metadata_as_text:
            out["metadata"] = json.dumps(row["metadata"])
        lines.append(json.dumps(out))
    return "\n".join(lines) + "\n"


def _csv_time(value: datetime) -> datetime:
    return datetime.strptime(
        value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], "%Y-%m-%d %H:%M:%S.%f"
    ).replace(tzinfo=UTC)


def expected_from_spend_log(row: dict, csv_times: bool) -> dict:
    start, end, first = (row["startTime"], row["endTime"], row["completionStartTime"])
    if csv_times:  # the export kept milliseconds
        start, end, first = _csv_time(start), _csv_time(end), _csv_time(first)
    success = row["status"] == "success"
    stream = first < end
    meta = row["metadata"]
    extra = meta["additional_usage_values"]
    error = meta["error_information"] or {}
    code = error.get("error_code")
    return {
        "request_id": row["request_id"],
        "created_at": start,
        "api_key_id": row["api_key"],
        "api_key_name": meta["user_api_key_alias"],
        "model": row["model"],
        "provider": row["custom_llm_provider"] or "unknown",
        "billing_mode": "subscription" if PLAN_TAG in row["request_tags"] else "pay_as_you_go",
        "status": "success" if success else "error",
        "http_status": None if success or not str(code).isdigit() else int(code),
        "error_type": None if success else (error.get("error_class") or None),
        "finish_reason": None,  # exports without stored responses do not say
        "stream": stream,
        "input_tokens": row["prompt_tokens"],
        "output_tokens": row["completion_tokens"],
        "cached_input_tokens": extra.get("cache_read_input_tokens") or 0,
        "cache_write_tokens": extra.get("cache_creation_input_tokens") or 0,
        "reasoning_tokens": (extra.get("completion_tokens_details") or {}).get("reasoning_tokens")
        or 0,
        "web_search_calls": (extra.get("server_tool_use") or {}).get("web_search_requests") or 0,
        "latency_ms": (end - start).total_seconds() * 1000.0,
        "first_token_ms": (first - start).total_seconds() * 1000.0 if stream and success else None,
        "cost_usd": row["spend"],
        "error_class": None if success else LITELLM_ERROR_CLASSES[error["error_class"]],
        "served_from_cache": row.get("cache_hit") == "True",
        "saved_cache_cost_usd": None,  # the table keeps none
    }


def dimensions_from_spend_log(row: dict) -> dict:
    meta = row["metadata"]
    return {
        "organization_id": row["organization_id"] or meta.get("user_api_key_org_id") or None,
        "organization_name": None,  # SpendLogsMetadata has no organization alias
        "team_id": row["team_id"] or meta.get("user_api_key_team_id") or None,
        "team_name": meta.get("user_api_key_team_alias") or None,
        "project_id": meta.get("user_api_key_project_id") or None,
        "project_name": meta.get("user_api_key_project_alias") or None,
        "end_user_id": row["end_user"] or None,
        "tags": row["request_tags"],
    }


# ------------------------------------------------------------------------- OpenRouter

OPENROUTER_KEY = {"api_key_id": "or-key-research", "api_key_name": "research"}


def openrouter_generation(**fields) -> dict:
    """A generation record validated by the SDK's own model, as the API's JSON."""
    from openrouter.components import GenerationResponseData

    record = {
        "api_type": "completions",
        "app_id": None,
        "cache_discount": None,
        "cancelled": False,
        "created_at": "2026-03-02T09:15:00.250000+00:00",
        "data_region": "global",
        "external_user": None,
        "finish_reason": "stop",
        "generation_time": 1800.0,
        "http_referer": None,
        "id": "gen-1",
        "is_byok": False,
        "latency": 2100.0,
        "model": "anthropic/claude-sonnet-4.5",
        "moderation_latency": None,
        "native_finish_reason": "end_turn",
        "native_tokens_cached": 0,
        "native_tokens_completion": 210,
        "native_tokens_completion_images": 0,
        "native_tokens_prompt": 1500,
        "native_tokens_reasoning": 0,
        "num_fetches": 0,
        "num_input_audio_prompt": 0,
        "num_media_completion": 0,
        "num_media_prompt": 0,
        "num_search_results": 0,
        "origin": "https://example.test/",
        "preset_id": None,
        "provider_name": "Anthropic",
        "provider_responses": None,
        "router": None,
        "service_tier": None,
        "streamed": False,
        "tokens_completion": 198,
        "tokens_prompt": 1460,
        "total_cost": 0.00765,
        "upstream_id": "msg_01",
        "upstream_inference_cost": None,
        "usage": 0.00765,
        "user_agent": None,
        "web_search_engine": None,
        "workspace_id": None,
    }
    record.update(fields)
    model = GenerationResponseData.model_validate(record)
    return model.model_dump(mode="json", by_alias=True)


def openrouter_generations() -> list[dict]:
    return [
        openrouter_generation(id="gen-plain", external_user="customer-17"),
        openrouter_generation(
            id="gen-stream-cache",
            streamed=True,
            latency=2600.0,
            generation_time=2150.0,
            native_tokens_prompt=4000,
            native_tokens_cached=3500,
            native_tokens_completion=900,
            native_tokens_reasoning=640,
            model="openai/o4-mini",
            provider_name="OpenAI",
            total_cost=0.0042,
        ),
        openrouter_generation(
            id="gen-web",
            num_search_results=5,
            web_search_engine="exa",
            created_at="2026-03-02T23:59:59.999+00:00",
            total_cost=0.0251,
        ),
        openrouter_generation(
            id="gen-error",
            finish_reason="error",
            native_finish_reason="rate_limited",
            native_tokens_prompt=None,
            native_tokens_completion=None,
            tokens_prompt=None,
            tokens_completion=None,
            native_tokens_cached=None,
            native_tokens_reasoning=None,
            generation_time=None,
            latency=310.0,
            total_cost=0.0,
            usage=0.0,
        ),
        openrouter_generation(
            id="gen-cancelled",
            cancelled=True,
            streamed=True,
            finish_reason=None,
            generation_time=400.0,
            latency=700.0,
            native_tokens_completion=12,
        ),
        openrouter_generation(
            id="gen-byok",
            is_byok=True,
            total_cost=0.0004,
            upstream_inference_cost=0.008,
            provider_name="Google Vertex",
            model="google/gemini-2.5-pro",
        ),
    ]


def dimensions_from_generation(g: dict) -> dict:
    """OpenRouter says who the end user was (external_user), nothing else of issue 25."""
    return {
        "organization_id": None,
        "organization_name": None,
        "team_id": None,
        "team_name": None,
        "project_id": None,
        "project_name": None,
        "end_user_id": g["external_user"] or None,
        "tags": None,
    }


def expected_from_generation(g: dict, byok_billing_mode: str = "pay_as_you_go") -> dict:
    success = not (g["finish_reason"] == "error" or g["cancelled"])
    stream = bool(g["streamed"])

    def first(*values):
        return next((v for v in values if v is not None), None)

    return {
        "request_id": g["id"],
        "created_at": datetime.fromisoformat(g["created_at"]).astimezone(UTC),
        "api_key_id": OPENROUTER_KEY["api_key_id"],
        "api_key_name": OPENROUTER_KEY["api_key_name"],
        "model": g["model"],
        "provider": g["provider_name"] or "unknown",
        "billing_mode": byok_billing_mode if g["is_byok"] else "pay_as_you_go",
        "status": "success" if success else "error",
        "http_status": None,
        "error_type": None
        if success
        else ("cancelled" if g["cancelled"] else g["native_finish_reason"] or "error"),
        "finish_reason": g["finish_reason"] if success else None,
        "stream": stream,
        "input_tokens": first(g["native_tokens_prompt"], g["tokens_prompt"], 0),
        "output_tokens": first(g["native_tokens_completion"], g["tokens_completion"], 0),
        "cached_input_tokens": g["native_tokens_cached"] or 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": g["native_tokens_reasoning"] or 0,
        "web_search_calls": 1 if (g["num_search_results"] or 0) > 0 else 0,
        "latency_ms": g["latency"],
        "first_token_ms": g["latency"] - g["generation_time"] if stream and success else None,
        "cost_usd": g["total_cost"],
    }
