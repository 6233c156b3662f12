"""benchmarks/sources.py at a tiny scale, so that it keeps working (the real runs are
manual, docs/benchmarks.md). Timings are not checked, only that every layout loads every
record it was given."""

from __future__ import annotations

import json

import pytest
from runs import run_benchmark

# Not in `make test`: the benchmark scripts are tools, not the product, and their
# end-to-end runs are the longest in the suite; `make test-benchmarks` (CI) runs them.
pytestmark = pytest.mark.benchmark_script


def test_sources_benchmark_loads_every_layout(tmp_path):
    result = tmp_path / "result.json"
    run_benchmark(
        "sources.py",
        "--records",
        "400",
        "--per-file-records",
        "50",
        "--repeat",
        "1",
        "--memory-limit",
        "1GB",
        "--threads",
        "1",
        "--json",
        str(result),
        timeout=900,
    )
    results = json.loads(result.read_text())["results"]
    assert len(results) == 6
    own = results["own format (.jsonl)"]
    for label, figures in results.items():
        per_call = "per call" in label or "per-file count" in label
        assert figures["records"] == (50 if per_call else own["records"]), label
        assert figures["seconds"] > 0
        assert figures["ratio_per_request"] > 0 and figures["ratio_per_byte"] > 0
        if "same_bytes" in figures:  # the source cut to about our file's bytes
            same = figures["same_bytes"]
            assert 0 < same["records"] <= figures["records"], label
            assert same["bytes"] <= own["bytes"], label
