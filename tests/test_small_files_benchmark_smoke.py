"""benchmarks/small_files.py at a tiny scale, so that it keeps working (the real runs are
manual, docs/benchmarks.md). Timings are not checked, only that every layout loads the
same records from one file and from many."""

from __future__ import annotations

import json

import pytest
from runs import run_benchmark

# Not in `make test`: the benchmark scripts are tools, not the product, and their
# end-to-end runs are the longest in the suite; `make test-benchmarks` (CI) runs them.
pytestmark = pytest.mark.benchmark_script


def test_small_files_benchmark_loads_every_layout(tmp_path):
    result = tmp_path / "result.json"
    run_benchmark(
        "small_files.py",
        "--records",
        "300",
        "--per-file",
        "10",
        "--memory-limit",
        "1GB",
        "--threads",
        "1",
        "--json",
        str(result),
        timeout=900,
    )
    results = json.loads(result.read_text())["results"]
    assert len(results) == 5
    for label, figures in results.items():
        assert figures["records"] > 250, label
        assert figures["one_file"]["files"] == 1, label
        assert figures["small_files"]["files"] == -(-figures["records"] // 10), label
        assert figures["ratio"] > 0 and figures["ratio_cpu"] > 0, label
