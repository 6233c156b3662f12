"""Benchmark of the intraday refresh of today's landing day (issue 26).

A refresh is an ordinary run of today's partition: load the day's files as they are
(`ingest.load.load_partition`) and the nightly dbt build of what the day touches. One
run generates a history and a new day at a chosen scale, builds the history, then
measures on the same warehouse:

1. a refresh at 01:00: the new day's folder holds only the requests created before
   01:00 UTC (about 1/24 of the day);
2. a refresh at the end of the day: the folder holds the whole day, loaded over the
   01:00 refresh (the load replaces the day's rows);
3. for comparison, the nightly run of the whole day on a copy of the warehouse as it was
   before the day (no refresh before it).

    nice -n 10 .venv/bin/python benchmarks/intraday.py --requests-per-day 1000000

Goals (docs/benchmarks.md, reported, never asserted): at 1,000,000 requests a day the
end-of-day refresh under 20 s on the 2-core machines and not more than the night's run
of the day; the 01:00 refresh under 5 s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.pipeline import (  # noqa: E402
    GIB,
    Warehouse,
    dbt_build,
    generate,
    load_days,
    progress,
)
from ingest.load import load_partition  # noqa: E402

TARGET_END_OF_DAY_SECONDS = 20.0
TARGET_EARLY_SECONDS = 5.0
NEW_DAY = date(2026, 3, 31)


def _before(folder: Path, cutoff: datetime, into: Path) -> int:
    """Write the records of `folder` created before `cutoff` as one file in `into`."""
    into.mkdir(parents=True)
    kept = 0
    with (into / "early.jsonl").open("w") as out:
        for path in sorted(folder.iterdir()):
            data = path.read_bytes()
            text = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode()
            for line in text.splitlines():
                record = json.loads(line)
                created = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
                if created < cutoff:
                    out.write(line + "\n")
                    kept += 1
    return kept


def refresh(warehouse: Warehouse, day: date, target_dir: Path) -> dict:
    """One refresh: load the day as its folder is, then the nightly dbt build."""
    started = time.perf_counter()
    loaded = load_partition(warehouse.settings(), day)
    ingest = time.perf_counter() - started
    run = dbt_build(warehouse, day, day + timedelta(days=1), target_dir)
    seconds = time.perf_counter() - started
    progress(
        f"[{warehouse.name}]   {loaded.rows_loaded:,} rows: ingest {ingest:.1f} s, dbt "
        f"{run.seconds:.1f} s, total {seconds:.1f} s, dbt peak {run.peak_bytes / GIB:.2f} GiB"
    )
    return {
        "rows_loaded": loaded.rows_loaded,
        "ingest_seconds": round(ingest, 3),
        "seconds": round(seconds, 3),
        "dbt_build": run.as_json(),
    }


def same_marts(one: Warehouse, other: Warehouse) -> tuple[int, list[str]]:
    """The marts whose rows differ between two warehouses (built_at aside): after the
    refreshes and then the whole day, the refreshed warehouse must equal the one that
    ran the day once. Every column but the reals must match exactly, row for row; the
    reals (spend, ratios, means) within a relative 1e-9, as sums in another order differ
    in the last bits (rounding both to nine digits was not enough: two values 1e-15
    apart can round to different ninth digits). Returns how many marts it compared, and
    those that differ."""
    differ = []
    with duckdb.connect(str(one.path), read_only=True) as connection:
        here = connection.execute("SELECT current_database()").fetchone()[0]
        connection.execute(f"ATTACH '{other.path}' AS other (READ_ONLY)")
        columns = connection.execute(
            "SELECT table_name, list(column_name ORDER BY column_index) FILTER "
            "(data_type <> 'DOUBLE'), list(column_name ORDER BY column_index) FILTER "
            "(data_type = 'DOUBLE') FROM duckdb_columns() WHERE database_name = ? "
            "AND schema_name = 'main_marts' AND column_name <> 'built_at' GROUP BY 1 ORDER BY 1",
            [here],
        ).fetchall()
        for mart, exact, reals in columns:
            exact, reals = exact or [], reals or []
            key = ", ".join(f'"{c}"' for c in exact)
            mine, theirs = f"{here}.main_marts.{mart}", f"other.main_marts.{mart}"
            # The exact columns, as multisets: the same rows, each as often.
            extra, missing, rows, keys = connection.execute(
                f"SELECT (SELECT count(*) FROM (SELECT {key} FROM {mine} EXCEPT ALL "
                f"SELECT {key} FROM {theirs})), (SELECT count(*) FROM (SELECT {key} FROM "
                f"{theirs} EXCEPT ALL SELECT {key} FROM {mine})), (SELECT count(*) FROM "
                f"{mine}), (SELECT count(*) FROM (SELECT DISTINCT {key} FROM {mine}))"
            ).fetchone()
            if extra or missing or rows != keys:  # rows not told apart by them: differ
                differ.append(mart)
                continue
            if reals:
                on = " AND ".join(f'a."{c}" IS NOT DISTINCT FROM b."{c}"' for c in exact)
                apart = " OR ".join(
                    f'(a."{c}" IS NULL) <> (b."{c}" IS NULL) OR abs(a."{c}" - b."{c}") > '
                    f'1e-9 * greatest(abs(a."{c}"), abs(b."{c}"), 1e-300)'
                    for c in reals
                )
                (far,) = connection.execute(
                    f"SELECT count(*) FROM {mine} AS a JOIN {theirs} AS b ON {on} WHERE {apart}"
                ).fetchone()
                if far:
                    differ.append(mart)
    return len(columns), differ


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests-per-day", type=int, default=20_000)
    parser.add_argument("--history-days", type=int, default=7)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=Path("data/bench-intraday"))
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    work = args.work_dir.absolute()
    if work.exists():
        shutil.rmtree(work)
    full_landing, landing = work / "all", work / "landing"
    first = NEW_DAY - timedelta(days=args.history_days)
    generated = generate(
        full_landing, first, args.history_days + 1, args.requests_per_day, 26, 0, 0
    )
    shutil.copytree(full_landing, landing, ignore=shutil.ignore_patterns(f"dt={NEW_DAY}"))
    warehouse = Warehouse("refreshed", work, landing, args.memory_limit, args.threads)
    target_dir = work / "dbt_target"

    progress(f"[{warehouse.name}] history {first} .. {NEW_DAY - timedelta(days=1)} ...")
    load_days(warehouse, first, NEW_DAY - timedelta(days=1))
    dbt_build(warehouse, first, NEW_DAY, target_dir)
    night = warehouse.copy_as("night")

    day_folder = full_landing / f"dt={NEW_DAY}"
    early = _before(day_folder, datetime.fromisoformat(f"{NEW_DAY}T01:00:00+00:00"),
                    landing / f"dt={NEW_DAY}")  # fmt: skip
    progress(f"[{warehouse.name}] refresh at 01:00 ({early:,} records) ...")
    at_one = refresh(warehouse, NEW_DAY, target_dir)
    shutil.rmtree(landing / f"dt={NEW_DAY}")
    shutil.copytree(day_folder, landing / f"dt={NEW_DAY}")
    progress(f"[{warehouse.name}] refresh at the end of the day ...")
    end_of_day = refresh(warehouse, NEW_DAY, target_dir)
    progress(f"[{night.name}] the night's run of the whole day ...")
    nightly = refresh(night, NEW_DAY, target_dir)

    compared, differing = same_marts(warehouse, night)
    report = {
        "config": vars(args) | {"work_dir": str(work), "json": str(args.json)},
        "generate": generated,
        "refresh_at_0100": at_one,
        "refresh_end_of_day": end_of_day,
        "nightly_run_of_the_day": nightly,
        # Refreshes then the whole day give the marts of one run of the day.
        "marts_compared_with_the_night": compared,
        "marts_differing_from_the_night": differing,
        "targets": {
            "end_of_day_under_20_s": end_of_day["seconds"] < TARGET_END_OF_DAY_SECONDS,
            "end_of_day_not_above_the_night": end_of_day["seconds"] <= nightly["seconds"] * 1.1,
            "at_0100_under_5_s": at_one["seconds"] < TARGET_EARLY_SECONDS,
            "scale_of_the_goals": args.requests_per_day == 1_000_000,
        },
    }
    print(json.dumps({k: v for k, v in report.items() if k != "config"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
