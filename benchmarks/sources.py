"""Benchmark of the source adapters: loading a landing day of LiteLLM payloads, LiteLLM
spend logs and OpenRouter generation records against our own format, two ways.

One run generates N requests in our own format (sample_data.generate), writes the same
requests as each source's records, and times `ingest.load.load_partition` on each layout
(a fresh warehouse each time; --repeat rounds over all layouts in turn, medians count).
Records are realistic in size: the LiteLLM payloads start from one LiteLLM really logged
(model map, hidden params, cost breakdown and all), so they are ~24 times ours.

"Our own format of the same size" is measured both ways:

- per request: the source's file against our file of the same requests (the one-call-
  per-file layout against our file cut to as many requests); the harder one, as a
  LiteLLM payload is ~24 times our record;
- per byte: the source's file cut to about our file's bytes, against our file.

    nice -n 10 .venv/bin/python benchmarks/sources.py --records 50000 --repeat 5

Layouts: one JSON Lines or CSV file per source (the same as ours), plus LiteLLM's
bucket-logger layout of one .json file per call at --per-file-records. The target (each
source within 1.5x of our own format) is reported, never asserted (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import duckdb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from config.settings import Settings  # noqa: E402
from ingest.load import load_partition  # noqa: E402
from sample_data.generate import generate_logs  # noqa: E402

DAY = date(2026, 3, 18)
TARGET_RATIO = 1.5
SOURCES_TOML = """
[sources.litellm]
format = "litellm"
[sources.litellm-files]
format = "litellm"
[sources.spend-logs]
format = "litellm_spend_logs"
[sources.openrouter]
format = "openrouter"
api_key_id = "or-key-bench"
"""


def litellm_template() -> str:
    """One payload LiteLLM really logged for a mocked call: the shape every record copies."""
    import litellm
    from litellm.integrations.custom_logger import CustomLogger

    kept = []

    class Keep(CustomLogger):
        def log_success_event(self, kwargs, response_obj, start_time, end_time):
            kept.append(kwargs["standard_logging_object"])

    litellm.callbacks = [Keep()]
    litellm.completion(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hello"}],
        mock_response="Hello! How can I help you today?",
        metadata={"user_api_key_hash": "x", "user_api_key_alias": "y"},
    )
    deadline = time.monotonic() + 30
    while not kept and time.monotonic() < deadline:
        time.sleep(0.05)
    litellm.callbacks = []
    return json.dumps(kept[0], default=str)


def _write_lines(connection: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    table = connection.sql(sql).to_arrow_table()
    texts = table.column(0).to_pylist()
    path.write_text("\n".join(texts) + "\n")
    return len(texts)


def write_sources(own_file: Path, landing: Path, per_file: int) -> dict[str, int]:
    """The requests of our own file as each source's records; {folder: records}."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        f"CREATE TABLE own AS SELECT * FROM read_json('{own_file}', format = 'newline_delimited', "
        "columns = {request_id: 'VARCHAR', created_at: 'TIMESTAMPTZ', api_key_id: 'VARCHAR', "
        "api_key_name: 'VARCHAR', model: 'VARCHAR', provider: 'VARCHAR', status: 'VARCHAR', "
        "error_type: 'VARCHAR', finish_reason: 'VARCHAR', stream: 'BOOLEAN', input_tokens: 'BIGINT', "
        "output_tokens: 'BIGINT', cached_input_tokens: 'BIGINT', cache_write_tokens: 'BIGINT', "
        "reasoning_tokens: 'BIGINT', web_search_calls: 'BIGINT', latency_ms: 'DOUBLE', "
        "first_token_ms: 'DOUBLE', cost_usd: 'DOUBLE'})"
    )
    connection.execute("""
        CREATE TABLE timed AS SELECT *,
            epoch(created_at) AS start_s,
            epoch(created_at) + latency_ms / 1000 AS end_s,
            CASE WHEN stream AND status = 'success' THEN epoch(created_at) + first_token_ms / 1000
                 ELSE epoch(created_at) + latency_ms / 1000 END AS first_s
        FROM own""")
    template = litellm_template().replace("'", "''")
    payload = f"""
        SELECT CAST(json_merge_patch('{template}', json_object(
            'id', 'chatcmpl-' || request_id, 'litellm_call_id', request_id,
            'startTime', start_s, 'endTime', end_s, 'completionStartTime', first_s,
            'model', model, 'custom_llm_provider', provider,
            'status', CASE WHEN status = 'success' THEN 'success' ELSE 'failure' END,
            'stream', stream, 'prompt_tokens', input_tokens, 'completion_tokens', output_tokens,
            'total_tokens', input_tokens + output_tokens, 'response_cost', coalesce(cost_usd, 0),
            'metadata', json_object('user_api_key_hash', api_key_id, 'user_api_key_alias', api_key_name,
                'usage_object', json_object('prompt_tokens', input_tokens, 'completion_tokens', output_tokens,
                    'prompt_tokens_details', json_object('cached_tokens', cached_input_tokens,
                                                         'cache_write_tokens', cache_write_tokens),
                    'completion_tokens_details', json_object('reasoning_tokens', reasoning_tokens),
                    'server_tool_use', json_object('web_search_requests', web_search_calls))))) AS VARCHAR)
        FROM timed"""
    counts = {}
    folder = landing / "litellm" / f"dt={DAY}"
    folder.mkdir(parents=True)
    counts["litellm"] = _write_lines(connection, payload, folder / "payloads.jsonl")
    folder = landing / "litellm-files" / f"dt={DAY}"
    folder.mkdir(parents=True)
    for number, text in enumerate(
        connection.sql(f"{payload} LIMIT {per_file}").to_arrow_table().column(0).to_pylist()
    ):
        (folder / f"{number:07d}.json").write_text(text)
    counts["litellm-files"] = per_file

    folder = landing / "spend-logs" / f"dt={DAY}"
    folder.mkdir(parents=True)
    connection.execute(f"""
        COPY (SELECT request_id, 'acompletion' AS call_type, api_key_id AS api_key,
                coalesce(cost_usd, 0) AS spend, input_tokens + output_tokens AS total_tokens,
                input_tokens AS prompt_tokens, output_tokens AS completion_tokens,
                timezone('UTC', to_timestamp(start_s)) AS "startTime",
                timezone('UTC', to_timestamp(end_s)) AS "endTime",
                timezone('UTC', to_timestamp(first_s)) AS "completionStartTime",
                model, model AS model_group, provider AS custom_llm_provider, '' AS api_base, '' AS "user",
                CAST(json_object('user_api_key', api_key_id, 'user_api_key_alias', api_key_name,
                    'status', CASE WHEN status = 'success' THEN 'success' ELSE 'failure' END,
                    'error_information', CASE WHEN status <> 'success' THEN json_object('error_code', '429',
                        'error_class', 'RateLimitError') END,
                    'additional_usage_values', json_object('cache_read_input_tokens', cached_input_tokens,
                        'cache_creation_input_tokens', cache_write_tokens,
                        'completion_tokens_details', json_object('reasoning_tokens', reasoning_tokens),
                        'server_tool_use', json_object('web_search_requests', web_search_calls)),
                    'usage_object', json_object('prompt_tokens', input_tokens, 'completion_tokens', output_tokens))
                    AS VARCHAR) AS metadata,
                'None' AS cache_hit, 'Cache OFF' AS cache_key, '[]' AS request_tags,
                CASE WHEN status = 'success' THEN 'success' ELSE 'failure' END AS status
              FROM timed) TO '{folder / "spend_logs.csv"}' (HEADER)""")
    counts["spend-logs"] = counts["litellm"]

    folder = landing / "openrouter" / f"dt={DAY}"
    folder.mkdir(parents=True)
    counts["openrouter"] = _write_lines(
        connection,
        """
        SELECT CAST(json_object(
            'api_type', 'completions', 'app_id', NULL, 'cache_discount', NULL, 'cancelled', false,
            'created_at', strftime(timezone('UTC', created_at), '%Y-%m-%dT%H:%M:%S.%f+00:00'),
            'data_region', 'global', 'external_user', NULL,
            'finish_reason', CASE WHEN status = 'success' THEN coalesce(finish_reason, 'stop') ELSE 'error' END,
            'generation_time', CASE WHEN stream THEN latency_ms - first_token_ms ELSE latency_ms * 0.9 END,
            'http_referer', NULL, 'id', 'gen-' || request_id, 'is_byok', false, 'latency', latency_ms,
            'model', model, 'moderation_latency', NULL, 'native_finish_reason', finish_reason,
            'native_tokens_cached', cached_input_tokens, 'native_tokens_completion', output_tokens,
            'native_tokens_completion_images', 0, 'native_tokens_prompt', input_tokens,
            'native_tokens_reasoning', reasoning_tokens, 'num_fetches', 0, 'num_input_audio_prompt', 0,
            'num_media_completion', 0, 'num_media_prompt', 0,
            'num_search_results', CASE WHEN web_search_calls > 0 THEN 5 ELSE 0 END,
            'origin', 'https://example.test/', 'preset_id', NULL, 'provider_name', provider,
            'provider_responses', NULL, 'router', NULL, 'service_tier', NULL, 'streamed', stream,
            'tokens_completion', output_tokens, 'tokens_prompt', input_tokens,
            'total_cost', coalesce(cost_usd, 0), 'upstream_id', 'chatcmpl-' || request_id,
            'upstream_inference_cost', NULL, 'usage', coalesce(cost_usd, 0), 'user_agent', NULL,
            'web_search_engine', NULL, 'workspace_id', NULL) AS VARCHAR)
        FROM timed""",
        folder / "generations.jsonl",
    )
    connection.close()
    return counts


def _link_files(source: Path, target: Path) -> None:
    """Hard-link every file of folder `source` into a new folder `target` (a copy only
    where a hard link cannot be made)."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        try:
            os.link(path, target / path.name)
        except OSError:
            shutil.copy2(path, target / path.name)


def _first_lines(
    source: Path,
    target: Path,
    *,
    records: int | None = None,
    size: int | None = None,
    header: bool = False,
) -> None:
    """The first `records` records of a JSON Lines or CSV file, or as many whole records
    as fit in `size` bytes (a CSV file keeps its header row)."""
    kept, total, count = [], 0, 0
    with source.open("rb") as handle:
        if header:
            line = handle.readline()
            kept.append(line)
            total += len(line)
        for line in handle:
            if records is not None and count >= records:
                break
            if size is not None and total + len(line) > size:
                break
            kept.append(line)
            total += len(line)
            count += 1
    target.write_bytes(b"".join(kept))


def _first_files(source: Path, target: Path, size: int) -> None:
    """Hard links to as many of the folder's files, in name order, as fit in `size` bytes."""
    target.mkdir(parents=True)
    total = 0
    for path in sorted(source.iterdir()):
        total += path.stat().st_size
        if total > size:
            break
        os.link(path, target / path.name)


def _view(work: Path, name: str, only: str | None) -> tuple[Path, Path]:
    """A landing root of its own for one measured layout, and its day folder: the loader
    reads every source a landing root declares, so each layout gets a root that declares
    just its own."""
    view = work / f"view-{name}"
    shutil.rmtree(view, ignore_errors=True)
    view.mkdir(parents=True)
    if only is not None:
        table = SOURCES_TOML.split(f"[sources.{only}]")[1].split("[sources.")[0]
        (view / "sources.toml").write_text(f"[sources.{only}]{table}")
    relative = Path(f"dt={DAY}") if only is None else Path(only) / f"dt={DAY}"
    return view, view / relative


def time_load(
    view: Path, work: Path, memory_limit: str, threads: int
) -> tuple[float, float, int, int]:
    """Wall time and CPU time (this process, all threads) of load_partition of the view's
    day into a fresh warehouse, with the rows loaded and rejected. On a shared machine
    the wall time swings with the others' load; the CPU time is the work done."""
    warehouse = work / "bench.duckdb"
    settings = Settings.from_env(
        {
            "LLM_USAGE_DATA_DIR": str(work),
            "LLM_USAGE_LANDING_DIR": str(view),
            "LLM_USAGE_WAREHOUSE": str(warehouse),
            "LLM_USAGE_DUCKDB_MEMORY_LIMIT": memory_limit,
            "LLM_USAGE_DUCKDB_THREADS": str(threads),
        }
    )
    began, began_cpu = time.perf_counter(), time.process_time()
    report = load_partition(settings, DAY)
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - began_cpu
    warehouse.unlink()
    if report.rows_loaded + report.rows_rejected == 0:
        raise SystemExit(
            f"benchmark: the load of {view} read no records; the timings would mean "
            f"nothing.\n{report.summary()}"
        )
    return seconds, cpu_seconds, report.rows_loaded, report.rows_rejected


SOURCE_LAYOUTS = (
    # (folder, label, file written by write_sources or None for one file per call)
    ("litellm", "LiteLLM payloads (.jsonl)", "payloads.jsonl"),
    ("spend-logs", "LiteLLM spend logs (.csv)", "spend_logs.csv"),
    ("openrouter", "OpenRouter generations (.jsonl)", "generations.jsonl"),
    ("litellm-files", "LiteLLM payloads (one .json per call)", None),
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000, help="requests per source (about)")
    parser.add_argument(
        "--per-file-records",
        type=int,
        default=20_000,
        help="LiteLLM calls written one .json file each",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds over every layout; the median counts"
    )
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-sources-"))
    landing = work / "landing"
    try:
        generate_logs(landing, DAY, 1, requests_per_day=args.records, seed=11, fmt="jsonl")
        own_file = next((landing / f"dt={DAY}").glob("*.jsonl"))
        per_file = min(args.per_file_records, args.records)
        counts = write_sources(own_file, landing, per_file)
        own_bytes = own_file.stat().st_size

        # Every measured layout gets a landing root of its own (see _view).
        views: dict[str, tuple[Path, str | None]] = {}
        view, folder = _view(work, "own", None)
        _link_files(landing / f"dt={DAY}", folder)
        views["own"] = (view, None)
        # Our own format with as many requests as the one-file-per-call layout holds.
        view, folder = _view(work, "own-per-file", None)
        folder.mkdir(parents=True)
        _first_lines(own_file, folder / own_file.name, records=per_file)
        views["own-per-file"] = (view, None)
        for name, _, file_name in SOURCE_LAYOUTS:
            source_folder = landing / name / f"dt={DAY}"
            view, folder = _view(work, name, name)
            _link_files(source_folder, folder)
            views[name] = (view, name)
            # The same source with about as many bytes as our own file.
            view, folder = _view(work, f"{name}-bytes", name)
            if file_name is None:
                _first_files(source_folder, folder, own_bytes)
            else:
                folder.mkdir(parents=True)
                _first_lines(
                    source_folder / file_name,
                    folder / file_name,
                    size=own_bytes,
                    header=file_name.endswith(".csv"),
                )
            views[f"{name}-bytes"] = (view, name)

        # Rounds over every layout in turn, so that a busy minute of a shared machine
        # falls on all of them; each layout's median counts.
        times: dict[str, list[float]] = {key: [] for key in views}
        cpu_times: dict[str, list[float]] = {key: [] for key in views}
        rows: dict[str, tuple[int, int]] = {}
        for _ in range(args.repeat):
            for key, (view, _) in views.items():
                seconds, cpu_seconds, loaded, rejected = time_load(
                    view, work, args.memory_limit, args.threads
                )
                times[key].append(seconds)
                cpu_times[key].append(cpu_seconds)
                rows[key] = (loaded, rejected)
        sizes = {
            key: sum(
                p.stat().st_size
                for p in view.rglob("*")
                if p.is_file() and p.name != "sources.toml"
            )
            for key, (view, _) in views.items()
        }

        def figures(key: str) -> dict:
            loaded, rejected = rows[key]
            seconds = statistics.median(times[key])
            return {
                "records": loaded + rejected,
                "bytes": sizes[key],
                "seconds": seconds,
                "all_seconds": times[key],
                "cpu_seconds": statistics.median(cpu_times[key]),
                "records_per_second": (loaded + rejected) / seconds,
                "megabytes_per_second": sizes[key] / 1e6 / seconds,
            }

        own = figures("own")
        ones = {
            f"{r}{c}": 1.0 for r in ("ratio_per_request", "ratio_per_byte") for c in ("", "_cpu")
        }
        results = {"own format (.jsonl)": dict(own, **ones)}
        own_per_file = figures("own-per-file")
        results["own format (.jsonl), per-file count"] = dict(own_per_file, **ones)
        for name, label, _ in SOURCE_LAYOUTS:
            full, same_bytes = figures(name), figures(f"{name}-bytes")
            loaded, rejected = rows[name]
            assert rejected == 0 and loaded == counts[name], (name, loaded, rejected, counts[name])
            assert rows[f"{name}-bytes"][1] == 0, (name, rows[f"{name}-bytes"])
            # Same number of requests: against our own file holding as many requests.
            versus = own_per_file if name == "litellm-files" else own

            def per_request(clock: str) -> float:
                return (full[clock] / full["records"]) / (versus[clock] / versus["records"])

            # Same bytes: the source cut to about our file's bytes, against our file.
            def per_byte(clock: str) -> float:
                return (same_bytes[clock] / same_bytes["bytes"]) / (own[clock] / own["bytes"])

            results[label] = dict(
                full,
                ratio_per_request=per_request("seconds"),
                ratio_per_byte=per_byte("seconds"),
                ratio_per_request_cpu=per_request("cpu_seconds"),
                ratio_per_byte_cpu=per_byte("cpu_seconds"),
                same_bytes={
                    k: same_bytes[k]
                    for k in ("records", "bytes", "seconds", "all_seconds", "cpu_seconds")
                },
            )
        # x own: wall-time ratio (CPU-time ratio in brackets).
        print(
            f"{'layout':<40} {'records':>9} {'MB':>7} {'wall s':>7} {'cpu s':>6} "
            f"{'x own/request':>14} | {'same bytes: records':>19} {'MB':>5} {'wall s':>6} "
            f"{'cpu s':>6} {'x own/byte':>12}"
        )
        for label, r in results.items():
            same = r.get("same_bytes")
            tail = (
                f"{same['records']:>19,} {same['bytes'] / 1e6:>5.1f} {same['seconds']:>6.2f} "
                f"{same['cpu_seconds']:>6.2f} "
                f"{r['ratio_per_byte']:>5.2f} ({r['ratio_per_byte_cpu']:.2f})"
                if same
                else ""
            )
            print(
                f"{label:<40} {r['records']:>9,} {r['bytes'] / 1e6:>7.1f} {r['seconds']:>7.2f} "
                f"{r['cpu_seconds']:>6.2f} "
                f"{r['ratio_per_request']:>7.2f} ({r['ratio_per_request_cpu']:.2f}) | {tail}"
            )
        print(
            f"target: every source within {TARGET_RATIO}x of our own format; medians of "
            f"{args.repeat} rounds"
        )
        report = {
            "config": {
                "records": args.records,
                "per_file_records": per_file,
                "threads": args.threads,
                "memory_limit": args.memory_limit,
                "repeat": args.repeat,
            },
            "results": results,
        }
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
        return report
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
