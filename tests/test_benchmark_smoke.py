"""The benchmark script at a tiny scale, so that it keeps working (the big runs are manual).

Timings are not checked, only that every figure is measured and that the numbers the
benchmark compares agree: our ingest and DuckDB's read_json see the same rows, and the
pandas check computes the same usage by model as the mart.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Not in `make test`: the benchmark scripts are tools, not the product, and their
# end-to-end runs are the longest in the suite; `make test-benchmarks` (CI) runs them.
pytestmark = pytest.mark.benchmark_script

REPO = Path(__file__).resolve().parent.parent


def test_benchmark_runs_end_to_end_and_reports_every_figure(tmp_path):
    result_path = tmp_path / "result.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "pipeline.py"),
            "--requests-per-day",
            "2000",
            "--days",
            "2",
            "--history-days",
            "3",
            "--memory-limit",
            "1GB",
            "--threads",
            "1",
            "--big-night-requests",
            "4000",
            # Each import timing is a fresh interpreter importing Dagster: once is enough
            # to check that every line is measured.
            "--import-repeats",
            "1",
            "--work-dir",
            str(tmp_path / "work"),
            "--json",
            str(result_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads(result_path.read_text())
    results = report["results"]

    assert report["config"]["duckdb_memory_limit"] == "1GB"
    assert report["config"]["duckdb_threads"] == 1
    assert results["generate"]["records_per_second"] > 0
    # Both readers of the new day's files see every line of them.
    ingest = results["ingest"]
    assert ingest["rows"] == ingest["floor_rows"] > 1000
    assert ingest["ours_rows_per_second"] > 0 and ingest["floor_rows_per_second"] > 0
    for history in ("short_history", "long_history"):
        step = results["nightly_step"][history]
        assert step["ingest_rows"] == ingest["rows"]
        assert step["dbt_build"]["seconds"] > step["dbt_build"]["model_seconds"] > 0
    assert results["nightly_step"]["long_history"]["history_days"] == 3
    assert results["nightly_run"]["seconds"] > 0
    assert results["nightly_run"]["peak_rss_bytes"] > 50 * 1024**2
    # Where the night's time goes: the run's steps and events, and the imports before it.
    run = results["nightly_run"]["run"]
    assert run["events"] > 0 and run["before_first_step_seconds"] >= 0 and len(run["steps"]) >= 2
    assert set(results["imports"]) == {"python", "dagster", "dagster_dbt", "definitions"}
    # Backfills in one build each: the long history, then the whole month.
    assert results["history_build"]["long"]["days"] == 3
    assert results["month_backfill"]["days"] == 4 and results["month_backfill"]["seconds"] > 0
    assert results["big_night"]["requests_per_day"] == 4000 and results["big_night"]["seconds"] > 0
    # pandas and the warehouse agree on the day's usage by model.
    assert results["pandas"]["matches_mart"], results["pandas"]["differences"]
    assert results["pandas"]["models"] > 5
    assert set(report["targets"]) == {
        "ingest_vs_floor",
        "history_growth",
        "ingest_history_growth",
        "nightly_seconds",
        "month_end_night_memory",
        "month_backfill_memory",
        "big_night_vs_night",
    }
    # Run with DuckDB's limit at 1 GB, both builds are within the goal of 4 GB.
    assert report["targets"]["month_backfill_memory"]["met"] is True
    assert "Targets:" in completed.stdout
    assert not (tmp_path / "work").exists()  # scratch data is removed unless --keep
