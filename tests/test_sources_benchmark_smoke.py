"""benchmarks/sources.py at a tiny scale, so that it keeps working (the real runs are
manual, docs/benchmarks.md). Timings are not checked, only that every layout loads every
record it was given."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_sources_benchmark_loads_every_layout(tmp_path):
    result = tmp_path / "result.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "sources.py"),
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
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads(result.read_text())["results"]
    assert len(results) == 5
    own = results["own format (.jsonl)"]["records"]
    for label, figures in results.items():
        assert figures["records"] == (50 if "per call" in label else own), label
        assert figures["seconds"] > 0 and figures["ratio"] > 0
