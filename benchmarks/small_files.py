"""Benchmark of a landing day of many small files against one file of the same records.

Gateways that flush often write a day as thousands of files of a few records each. One
run generates N requests in our own format (sample_data.generate), writes them as one
file and as files of --per-file records each, in every format the loader reads (our
`.jsonl`, `.jsonl.gz` and `.parquet`; a source's `.jsonl` and `.csv`, written as
benchmarks/sources.py writes them), and times `ingest.load.load_partition` on each
layout (a fresh warehouse each time; --repeat rounds over all layouts, medians count).

    nice -n 10 .venv/bin/python benchmarks/small_files.py --records 20000 --per-file 10

The target (many small files within 2x of one file of the same records, wall time) is
reported, never asserted (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.sources import DAY, SOURCES_TOML, time_load, write_sources  # noqa: E402
from sample_data.generate import generate_logs  # noqa: E402

TARGET_RATIO = 2.0
# (label, format written, source folder or None for our own dt= folder, file suffix)
LAYOUTS = (
    ("own .jsonl", "jsonl", None, ".jsonl"),
    ("own .jsonl.gz", "jsonl.gz", None, ".jsonl.gz"),
    ("own .parquet", "parquet", None, ".parquet"),
    ("OpenRouter .jsonl", "jsonl", "openrouter", ".jsonl"),
    ("LiteLLM spend logs .csv", "csv", "spend-logs", ".csv"),
)


def _chunks(lines: list[bytes], size: int) -> list[list[bytes]]:
    return [lines[at : at + size] for at in range(0, len(lines), size)]


def _write_layout(
    source_file: Path, fmt: str, suffix: str, folder: Path, per_file: int | None
) -> int:
    """Write the records of `source_file` (JSON Lines, or CSV with a header) into
    `folder`, as one file (per_file None) or files of `per_file` records; the files."""
    folder.mkdir(parents=True)
    data = source_file.read_bytes()
    lines = data.splitlines(keepends=True)
    header = [lines.pop(0)] if fmt == "csv" else []
    groups = _chunks(lines, per_file) if per_file else [lines]
    if fmt == "parquet":
        # Every file with the columns of the whole day, as a writer with a schema writes
        # them (DuckDB would give a file of ten records the types those ten suggest).
        table = duckdb.sql(
            f"SELECT * FROM read_json('{source_file}', format = 'newline_delimited')"
        ).to_arrow_table()
    for number, group in enumerate(groups):
        path = folder / f"part-{number:06d}{suffix}"
        if fmt == "parquet":
            first = sum(len(g) for g in groups[:number])
            pq.write_table(table.slice(first, len(group)), path)
        elif fmt == "jsonl.gz":
            path.write_bytes(gzip.compress(b"".join(group), mtime=0))
        else:
            path.write_bytes(b"".join(header + group))
    return len(groups)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="requests in the day (about)")
    parser.add_argument("--per-file", type=int, default=10, help="records per small file")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds over every layout; the median counts"
    )
    parser.add_argument(
        "--only", nargs="*", help="labels of the layouts to time (default: all)", default=None
    )
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-small-files-"))
    landing = work / "landing"
    layouts = [layout for layout in LAYOUTS if not args.only or layout[0] in args.only]
    try:
        generate_logs(landing, DAY, 1, requests_per_day=args.records, seed=11, fmt="jsonl")
        own_file = next((landing / f"dt={DAY}").glob("*.jsonl"))
        if any(source for _, _, source, _ in layouts):
            write_sources(own_file, landing, per_file=1)
        source_files = {
            "openrouter": landing / "openrouter" / f"dt={DAY}" / "generations.jsonl",
            "spend-logs": landing / "spend-logs" / f"dt={DAY}" / "spend_logs.csv",
        }
        views: dict[str, Path] = {}
        files: dict[str, int] = {}
        for label, fmt, source, suffix in layouts:
            for size, per_file in (("one", None), ("many", args.per_file)):
                key = f"{label}|{size}"
                view = work / f"view-{len(views)}"
                if source is None:
                    folder = view / f"dt={DAY}"
                else:
                    table = SOURCES_TOML.split(f"[sources.{source}]")[1].split("[sources.")[0]
                    view.mkdir(parents=True)
                    (view / "sources.toml").write_text(f"[sources.{source}]{table}")
                    folder = view / source / f"dt={DAY}"
                records_file = own_file if source is None else source_files[source]
                files[key] = _write_layout(records_file, fmt, suffix, folder, per_file)
                views[key] = view

        times: dict[str, list[float]] = {key: [] for key in views}
        cpu_times: dict[str, list[float]] = {key: [] for key in views}
        rows: dict[str, tuple[int, int]] = {}
        for _ in range(args.repeat):
            for key, view in views.items():
                seconds, cpu_seconds, loaded, rejected = time_load(
                    view, work, args.memory_limit, args.threads
                )
                times[key].append(seconds)
                cpu_times[key].append(cpu_seconds)
                rows[key] = (loaded, rejected)

        results = {}
        print(
            f"{'layout':<26} {'records':>8} {'files':>6} {'wall s':>7} {'cpu s':>6}   "
            f"{'files':>6} {'wall s':>7} {'cpu s':>6}  {'x one (wall, cpu)':>18}"
        )
        for label, *_ in layouts:
            one, many = f"{label}|one", f"{label}|many"
            assert rows[one] == rows[many], (label, rows[one], rows[many])
            result = {
                "records": sum(rows[one]),
                "one_file": {
                    "files": files[one],
                    "seconds": statistics.median(times[one]),
                    "cpu_seconds": statistics.median(cpu_times[one]),
                    "all_seconds": times[one],
                    "all_cpu_seconds": cpu_times[one],
                },
                "small_files": {
                    "files": files[many],
                    "seconds": statistics.median(times[many]),
                    "cpu_seconds": statistics.median(cpu_times[many]),
                    "all_seconds": times[many],
                    "all_cpu_seconds": cpu_times[many],
                },
            }
            result["ratio"] = result["small_files"]["seconds"] / result["one_file"]["seconds"]
            result["ratio_cpu"] = (
                result["small_files"]["cpu_seconds"] / result["one_file"]["cpu_seconds"]
            )
            results[label] = result
            o, m = result["one_file"], result["small_files"]
            print(
                f"{label:<26} {result['records']:>8,} {o['files']:>6,} {o['seconds']:>7.2f} "
                f"{o['cpu_seconds']:>6.2f}   {m['files']:>6,} {m['seconds']:>7.2f} "
                f"{m['cpu_seconds']:>6.2f}  {result['ratio']:>9.2f} ({result['ratio_cpu']:.2f})"
            )
        print(
            f"target: files of {args.per_file} records within {TARGET_RATIO}x of one file; "
            f"medians of {args.repeat} rounds"
        )
        report = {
            "config": {
                "records": args.records,
                "per_file": args.per_file,
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
