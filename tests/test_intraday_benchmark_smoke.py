"""benchmarks/intraday.py at a tiny scale, so that it keeps working (the real runs are
manual, docs/benchmarks.md). Timings are not checked: only that the 01:00 refresh loads
part of the day, the end-of-day refresh all of it, and that after the refreshes every
mart equals the warehouse that ran the whole day once."""

from __future__ import annotations

import json

import pytest
from runs import run_benchmark

# Not in `make test`: `make test-benchmarks` (CI) runs the benchmark scripts.
pytestmark = pytest.mark.benchmark_script


def test_intraday_benchmark_refreshes_equal_one_run_of_the_day(tmp_path):
    result = tmp_path / "result.json"
    run_benchmark(
        "intraday.py",
        "--requests-per-day",
        "2000",
        "--history-days",
        "1",
        "--memory-limit",
        "1GB",
        "--threads",
        "1",
        "--work-dir",
        str(tmp_path / "work"),
        "--json",
        str(result),
        timeout=900,
    )
    report = json.loads(result.read_text())
    early, whole = report["refresh_at_0100"], report["refresh_end_of_day"]
    assert 0 < early["rows_loaded"] < whole["rows_loaded"]
    assert whole["rows_loaded"] == report["nightly_run_of_the_day"]["rows_loaded"]
    assert report["marts_compared_with_the_night"] >= 15
    assert report["marts_differing_from_the_night"] == []
    assert set(report["targets"]) >= {"end_of_day_under_20_s", "at_0100_under_5_s"}
