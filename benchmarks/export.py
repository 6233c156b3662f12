"""`llm-usage export` of a large mart: time and peak memory per format (docs/benchmarks.md).

A year of days at 1,000,000 requests a day fills the day cube of mart_usage_summary: up
to about 40,000 rows a day (300 keys x the catalogue's 52 routes, with their '*' rows).
This writes a warehouse holding only that mart, synthetic, with --rows-per-day rows for
each of --days days, and exports it in each format in a process of its own, reading the
process's peak resident memory (VmHWM) at its end.

    python benchmarks/export.py --days 30 --days 90 --rows-per-day 40000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent

TABLE = """
CREATE SCHEMA main_marts;
CREATE TABLE main_marts.mart_usage_summary AS
SELECT 'day' AS grain, DATE '2025-01-01' + (i // {per_day})::INTEGER AS period_start,
    'key_' || (i % 300) AS api_key_id, 'vendor/model-' || (i % 25) AS model,
    'provider-' || (i % 15) AS provider, i * 7 AS total_tokens, i * 5 AS input_tokens,
    i * 2 AS output_tokens, (i % 97 + 1)::BIGINT AS requests, i / 1e6 AS spend_usd,
    (i % 97 + 1)::BIGINT AS requests_with_cost, 1.0 AS cost_coverage,
    2.5 AS cost_per_million_tokens, now() AS built_at
FROM range({rows}) t(i);
"""

MEASURE = (
    "import re, sys\n"
    "from cli.main import main\n"
    "try:\n    main(sys.argv[1:])\n"
    "finally:\n"
    "    status = open('/proc/self/status').read()\n"
    "    print('VmHWM', re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1), file=sys.stderr)\n"
)


def export(data_dir: Path, fmt: str) -> tuple[float, float, float]:
    """Seconds, peak MB and file MB of one export."""
    out = data_dir / f"export.{fmt}"
    environment = {**os.environ, "LLM_USAGE_DATA_DIR": str(data_dir)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, "export", "mart_usage_summary", "--grain", "day"]
        + ["--out", str(out)],
        env=environment,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    seconds = time.monotonic() - started
    peak = int(done.stderr.split("VmHWM")[-1].split()[0]) / 1024
    size = out.stat().st_size / 1e6
    out.unlink()
    return seconds, peak, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, action="append", required=True)
    parser.add_argument("--rows-per-day", type=int, default=40_000)
    parser.add_argument("--formats", default="parquet,csv,jsonl")
    args = parser.parse_args()
    print("| days | rows | format | seconds | rows/s | peak memory (MB) | file (MB) |")
    print("|---|---|---|---|---|---|---|")
    for days in args.days:
        rows = days * args.rows_per_day
        with tempfile.TemporaryDirectory() as folder:
            data_dir = Path(folder)
            with duckdb.connect(str(data_dir / "warehouse.duckdb")) as connection:
                connection.execute(TABLE.format(per_day=args.rows_per_day, rows=rows))
            for fmt in args.formats.split(","):
                seconds, peak, size = export(data_dir, fmt)
                print(
                    f"| {days} | {rows:,} | {fmt} | {seconds:.1f} | {rows / seconds:,.0f} "
                    f"| {peak:.0f} | {size:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
