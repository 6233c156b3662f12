"""One landing day through the pipeline on DuckDB and on a local Spark session, on the
same machine and the same files: wall time and peak memory of each step.

For each engine (LLM_USAGE_ENGINE=duckdb, then spark), in a fresh data directory:

1. ingest: `ingest.load.load_partition` of the day (the same DuckDB contract checks on
   both; on Spark the checked day is written as Parquet);
2. checks: the raw quality checks, quarantine and holds (`quality.holds.check_and_hold`,
   on the lake's Parquet on Spark);
3. dbt: `dbt build` of the queued day in its own process (on Spark, the JVM is a child of
   that process), models and data tests, with peak resident memory of the process tree.

Usage (from the repo root, with the spark extra installed, `make test-spark` does that):

    nice -n 10 .venv/bin/python benchmarks/spark_vs_duckdb.py --requests-per-day 1000000

Prints a table and writes JSON (default benchmarks/results/). Nothing is asserted: the
numbers go in docs/scaling.md with the state of the machine they were taken on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import psutil  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from config.settings import Settings  # noqa: E402
from ingest import lake  # noqa: E402
from ingest.load import load_partition  # noqa: E402
from ingest.warehouse import connect, ensure_raw_schema, request_model_build  # noqa: E402
from orchestration.dbt_assets import NIGHTLY_EXCLUDE  # noqa: E402
from quality.holds import check_and_hold  # noqa: E402
from quality.rules import Thresholds  # noqa: E402
from sample_data.generate import generate_logs  # noqa: E402

DBT = Path(sys.executable).with_name("dbt")
DAY = date(2026, 3, 2)


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _run_measured(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds and peak resident bytes of a command's process tree, and its output."""
    began = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    watched = psutil.Process(process.pid)
    peak = 0
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    while process.poll() is None:
        peak = max(peak, _tree_rss(watched))
        time.sleep(0.2)
    reader.join()
    return time.perf_counter() - began, peak, "".join(output)


def run_engine(engine: str, landing: Path, work: Path, args) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_USAGE_")}
    env.update(
        LLM_USAGE_DATA_DIR=str(work / engine),
        LLM_USAGE_LANDING_DIR=str(landing),
        LLM_USAGE_ENGINE=engine,
        LLM_USAGE_SPARK_DRIVER_MEMORY=args.spark_driver_memory,
        LLM_USAGE_SPARK_SHUFFLE_PARTITIONS=str(args.shuffle_partitions),
    )
    settings = Settings.from_env(env)
    # Every setting as dbt's environment, as the Dagster dbt step hands them: the resolved
    # paths, and the data-quality ceilings the performance figures are judged by.
    env.update(settings.environment())
    began = time.perf_counter()
    self_process = psutil.Process()
    rss_before = self_process.memory_info().rss
    report = load_partition(settings, DAY)
    ingest_seconds = time.perf_counter() - began
    began = time.perf_counter()
    check_and_hold(settings, DAY, DAY, Thresholds.from_env())
    checks_seconds = time.perf_counter() - began
    if settings.on_spark:
        lake.request_model_build(settings, [DAY], "dbt step")
    else:
        with connect(settings) as connection:
            ensure_raw_schema(connection)
            request_model_build(connection, [DAY], "dbt step")
    seconds, peak, output = _run_measured(
        [
            str(DBT),
            "build",
            # What a night builds: the weekly audit's full-history tests and the unit
            # tests stay out, as in the Dagster dbt step.
            "--exclude",
            NIGHTLY_EXCLUDE,
            "--project-dir",
            "dbt_project",
            "--profiles-dir",
            "dbt_project",
            "--target-path",
            str(work / f"target-{engine}"),
            "--log-path",
            str(work / f"logs-{engine}"),
        ],
        env,
    )
    ok = "Completed successfully" in output
    if not ok:
        print(output[-4000:], file=sys.stderr)
    return {
        "engine": engine,
        "rows_loaded": report.rows_loaded,
        "ingest_seconds": round(ingest_seconds, 1),
        "checks_seconds": round(checks_seconds, 1),
        "ingest_process_rss_mb_after": round(self_process.memory_info().rss / 2**20),
        "ingest_process_rss_mb_before": round(rss_before / 2**20),
        "dbt_build_seconds": round(seconds, 1),
        "dbt_build_peak_rss_mb": round(peak / 2**20),
        "dbt_build_ok": ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests-per-day", type=int, default=1_000_000)
    parser.add_argument("--work-dir", type=Path, default=REPO / "data" / "bench-spark")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--spark-driver-memory", default="4g")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    # dbt resolves --target-path against the project directory, not the current one.
    args.work_dir = args.work_dir.absolute()
    landing = args.work_dir / "landing"
    if not (landing / f"dt={DAY.isoformat()}").is_dir():
        generate_logs(landing, DAY, 1, args.requests_per_day, seed=5)
    results = [run_engine(e, landing, args.work_dir, args) for e in args.engines.split(",")]
    load = os.getloadavg()
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "load_average_at_end": [round(x, 1) for x in load],
        "requests_per_day": args.requests_per_day,
        "results": results,
    }
    for r in results:
        print(
            f"{r['engine']:7} ingest {r['ingest_seconds']:7.1f} s   checks "
            f"{r['checks_seconds']:6.1f} s   dbt build "
            f"{r['dbt_build_seconds']:7.1f} s, peak {r['dbt_build_peak_rss_mb']:6} MB   "
            f"ok={r['dbt_build_ok']}   rows {r['rows_loaded']}"
        )
    print(f"load average at the end: {summary['load_average_at_end']}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"spark_vs_duckdb_{args.requests_per_day}.json"
    path.write_text(json.dumps(summary, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
