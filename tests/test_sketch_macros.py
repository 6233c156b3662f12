"""The sketch macros of dbt_project/macros/sketch.sql, rendered by dbt and run by DuckDB
on hand-made values (`dbt show --inline`, one dbt start for all of them), checked against
the definition computed here in Python: the bucket bounds, the value read back, the zero
bucket, and the nearest-rank pick over a merged histogram.

Not dbt unit_tests: those would run in every nightly `dbt build` and need the upstream
relations built first; one inline query tests the macros themselves."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

# Not from orchestration.dbt_assets: importing it loads Dagster and parses the project.
DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

A = 0.01  # the stated relative accuracy (docs/metrics.md)
GAMMA = (1 + A) / (1 - A)
VALUES = [
    0.0,
    1e-6,
    0.37,
    1.0,
    1.5,
    2.0,
    7.0,
    99.0,
    100.0,
    101.0,
    1234.5,
    60_000.0,
    3.6e6,
    1e9,
    GAMMA,
    GAMMA**10,
    GAMMA**-3,
]


def _show(sql: str, tmp_path) -> list[dict]:
    result = subprocess.run(
        [
            DBT_EXECUTABLE,
            "show",
            "--inline",
            sql,
            "--limit",
            "-1",
            "--output",
            "json",
            "--log-format",
            "json",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env={**os.environ, "LLM_USAGE_WAREHOUSE": str(tmp_path / "macros.duckdb")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for line in result.stdout.splitlines():
        event = json.loads(line)
        preview = event.get("data", {}).get("preview")
        if preview:
            return json.loads(preview)
    raise AssertionError(result.stdout[-3000:])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("sketch_macros")
    values = ", ".join(f"({i}, cast({v!r} as double))" for i, v in enumerate(VALUES))
    # A merged histogram: key 'a' has 10 values in buckets 1..10, one each; key 'b' has
    # 99 values in bucket 5 and one in bucket 50; key 'z' only zeros.
    histogram = ", ".join(
        [f"('a', {b}, 1)" for b in range(1, 11)]
        + ["('b', 5, 99)", "('b', 50, 1)", "('z', -32768, 3)"]
    )
    sql = f"""
with v(i, x) as (values {values}),
buckets as (
    select 'bucket' as kind, cast(i as varchar) as k, {{{{ sketch_bucket('x') }}}} as bucket,
           {{{{ sketch_bucket_value(sketch_bucket('x')) }}}} as p50, null as p90, null as p99
    from v
),
merged as (
    select k, bucket, requests, 0.0 as value_sum
    from (values {histogram}) as h(k, bucket, requests)
),
picked as (
    {{{{ sketch_percentiles('merged', ['k'], [0.5, 0.9, 0.99], ['p50', 'p90', 'p99']) }}}}
)
select * from buckets
union all
select 'pick', k, null, p50, p90, p99 from picked
"""
    return _show(sql, tmp_path)


def test_bucket_bounds_and_value_read_back(rendered):
    rows = {int(r["k"]): r for r in rendered if r["kind"] == "bucket"}
    assert len(rows) == len(VALUES)
    for i, x in enumerate(VALUES):
        bucket, value = rows[i]["bucket"], rows[i]["p50"]
        if x == 0:
            assert bucket == -32768 and value == 0
            continue
        # gamma^(b-1) < x <= gamma^b, up to the rounding of the logarithm at a boundary.
        assert GAMMA ** (bucket - 1) * (1 - 1e-12) < x <= GAMMA**bucket * (1 + 1e-12), (x, bucket)
        assert value == pytest.approx(2 * GAMMA**bucket / (GAMMA + 1), rel=1e-12)
        assert abs(value - x) <= (A + 1e-12) * x, (x, value)


def test_percentile_is_the_bucket_at_the_nearest_rank(rendered):
    picks = {r["k"]: r for r in rendered if r["kind"] == "pick"}

    def read_back(bucket):
        return 2 * GAMMA**bucket / (GAMMA + 1)

    def nearest_rank_bucket(buckets, q):
        ordered = sorted(buckets)
        return ordered[math.ceil(Fraction(str(q)) * len(ordered)) - 1]

    a = list(range(1, 11))
    b = [5] * 99 + [50]
    for q, column in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        assert picks["a"][column] == pytest.approx(read_back(nearest_rank_bucket(a, q)), rel=1e-12)
        assert picks["b"][column] == pytest.approx(read_back(nearest_rank_bucket(b, q)), rel=1e-12)
        assert picks["z"][column] == 0
    # Rank ceil(0.9 * 10) = 9 exactly: no rounding of q * n moves it to 10.
    assert picks["a"]["p90"] == pytest.approx(read_back(9), rel=1e-12)
    # Rank ceil(0.99 * 100) = 99 is still in bucket 5; the 100th value is not reached.
    assert picks["b"]["p99"] == pytest.approx(read_back(5), rel=1e-12)
