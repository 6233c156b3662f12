"""The same pipeline on Spark (LLM_USAGE_ENGINE=spark) gives the DuckDB build's tables,
row for row: raw, facts and every mart, after a first build and after an incremental one
that reloads a landing day and adds one with late records.

Runs with `make test-spark` (pyspark and a Java runtime; `.ci/run` installs both);
skipped where they are missing. Each engine runs the nightly job's steps as
tests/pipeline_in_process.py does: load each landing day, run the raw quality checks
(quarantine and holds), queue the window, `dbt build` (its data tests included).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pipeline_in_process import dbt_args
from runs import cli_env

from config.settings import Settings
from ingest import lake
from ingest.load import load_partition
from ingest.warehouse import connect, ensure_raw_schema, request_model_build
from orchestration.dbt_assets import DBT_EXECUTABLE
from quality.holds import check_and_hold
from quality.rules import Thresholds
from sample_data.generate import generate_logs

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark", reason="the spark extra is not installed (make test-spark)")
if shutil.which("java") is None:
    pytest.skip("no Java runtime (make test-spark needs Java 17 or 21)", allow_module_level=True)

# A Monday; the four days cross a month end, so weeks and months are partial and whole.
FIRST = date(2026, 3, 30)
DAYS = [FIRST + timedelta(days=i) for i in range(4)]
REQUESTS_PER_DAY = 300
# Columns that record when a row was written, not what it says.
WRITE_TIME_COLUMNS = {
    "built_at",
    "ingested_at",
    "requested_at",
    "held_at",
    "recorded_at",
    "replaced_at",
    "quarantined_at",
    "detected_at",
}
SCHEMAS = ("raw", "main_intermediate", "main_facts", "main_marts")


def _generate(landing: Path, days: list[date], seed: int) -> None:
    generate_logs(
        landing,
        days[0],
        len(days),
        REQUESTS_PER_DAY,
        seed=seed,
        duplicate_rate=0.03,
        late_rate=0.03,
        malformed_rate=0.01,
    )


def _add_file(landing: Path, day: date, seed: int, scratch: Path) -> None:
    """A second file for a landing day that was loaded: the day is loaded again, whole."""
    generate_logs(scratch, day, 1, REQUESTS_PER_DAY, seed=seed, duplicate_rate=0.03)
    folder = f"dt={day.isoformat()}"
    shutil.copy(scratch / folder / "part-00000.jsonl.gz", landing / folder / "part-00001.jsonl.gz")


def _withdraw_records(landing: Path, day: date, count: int) -> None:
    """The gateway re-delivers a landing day's first file without its last `count`
    records: a reload takes them away, and their event days must be rebuilt."""
    path = landing / f"dt={day.isoformat()}" / "part-00000.jsonl.gz"
    with gzip.open(path, "rt") as f:
        lines = f.readlines()
    with gzip.open(path, "wt") as f:
        f.writelines(lines[:-count])


def _add_odd_records(landing: Path, day: date, count: int, name: str) -> None:
    """A file of `count` records with more output tokens than one request can produce, a
    blocking record-level rule: a few are quarantined and the day loads; many hold the
    whole day."""
    with gzip.open(landing / f"dt={day.isoformat()}" / "part-00000.jsonl.gz", "rt") as f:
        template = json.loads(f.readline())
    template.update(
        status="success",
        output_tokens=300000,
        latency_ms=1500.0,
        first_token_ms=500.0,
        stream=True,
        billing_mode="pay_as_you_go",
    )
    lines = [json.dumps({**template, "request_id": f"odd_{name}_{n}"}) for n in range(count)]
    (landing / f"dt={day.isoformat()}" / f"{name}.jsonl").write_text("\n".join(lines) + "\n")


def _settings(data_dir: Path, landing: Path, engine: str) -> tuple[Settings, dict[str, str]]:
    """The engine's settings, and the environment of a process (dbt) that runs with them."""
    settings = Settings.from_env(
        {
            "LLM_USAGE_DATA_DIR": str(data_dir),
            "LLM_USAGE_LANDING_DIR": str(landing),
            "LLM_USAGE_ENGINE": engine,
            # Small days on a small machine: few shuffle partitions, a small driver.
            "LLM_USAGE_SPARK_MASTER": "local[2]",
            "LLM_USAGE_SPARK_DRIVER_MEMORY": "1g",
            "LLM_USAGE_SPARK_SHUFFLE_PARTITIONS": "2",
        }
    )
    return settings, cli_env(settings)


def _run_window(settings: Settings, env: dict[str, str], days: list[date], scratch: Path) -> None:
    for day in days:
        load_partition(settings, day)
        check_and_hold(settings, day, day, Thresholds.from_env())
    if settings.on_spark:
        lake.request_model_build(settings, days, "dbt step")
    else:
        connection = connect(settings)
        try:
            ensure_raw_schema(connection)
            request_model_build(connection, days, "dbt step")
        finally:
            connection.close()
    # Its own process: the Spark session (and its JVM) ends with it.
    result = subprocess.run(
        [DBT_EXECUTABLE, *dbt_args("build", scratch)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]


def _tables(settings: Settings) -> dict[str, pd.DataFrame]:
    """Every table of the raw, intermediate, fact and mart schemas, as readers see them:
    the warehouse file on DuckDB, the lake's Parquet files on Spark."""
    connection = connect(settings, read_only=True)
    try:
        names = connection.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN ? "
            "UNION SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE schema_name IN ? AND view_name NOT LIKE '%_recorded' ORDER BY ALL",
            [list(SCHEMAS), list(SCHEMAS)],
        ).fetchall()
        return {
            f"{schema}.{name}": connection.execute(f"SELECT * FROM {schema}.{name}").fetchdf()
            for schema, name in names
        }
    finally:
        connection.close()


def _sorted(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Rows in one order whatever the engine: by every column, floats rounded for the
    sort only, so that a last-bit difference cannot reorder rows."""
    keys = pd.DataFrame(
        {
            c: frame[c].round(6) if pd.api.types.is_float_dtype(frame[c]) else frame[c].astype(str)
            for c in columns
        }
    )
    order = keys.sort_values(columns, kind="stable").index
    return frame.loc[order, columns].reset_index(drop=True)


def _differences(duck: pd.DataFrame, spark: pd.DataFrame) -> list[str]:
    columns = [c for c in duck.columns if c not in WRITE_TIME_COLUMNS]
    if sorted(columns) != sorted(c for c in spark.columns if c not in WRITE_TIME_COLUMNS):
        return [f"columns {sorted(columns)} vs {sorted(spark.columns)}"]
    if len(duck) != len(spark):
        return [f"{len(duck)} rows vs {len(spark)}"]
    duck, spark = _sorted(duck, columns), _sorted(spark, columns)
    problems = []
    for column in columns:
        a, b = duck[column], spark[column]
        if not (a.isna().to_numpy() == b.isna().to_numpy()).all():
            problems.append(f"{column}: NULL in different rows")
            continue
        a, b = a[a.notna()], b[b.notna()]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            # Sums and means in another order differ in the last bits; percentiles read
            # the same sketch bucket on both engines (macros/sketch.sql: integer counts),
            # so they agree to the last bits too, not merely within the sketch's bound.
            same = np.isclose(a.astype(float), b.astype(float), rtol=1e-9, atol=1e-9)
        else:
            same = a.astype(str).to_numpy() == b.astype(str).to_numpy()
        if not same.all():
            problems.append(f"{column}: {int((~same).sum())} rows differ")
    return problems


def _assert_same_tables(duck_settings: Settings, spark_settings: Settings) -> None:
    duck, spark = _tables(duck_settings), _tables(spark_settings)
    marts = [name for name in duck if name.startswith("main_marts.")]
    assert len(marts) >= 11, marts
    assert sorted(duck) == sorted(spark)
    problems = {name: _differences(duck[name], spark[name]) for name in duck}
    assert not {name: p for name, p in problems.items() if p}, problems
    assert len(duck["main_facts.fct_requests"]) > 0


def test_spark_builds_the_duckdb_tables_row_for_row(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _generate(landing, DAYS, seed=11)
    # Day 1: two records quarantined, the rest loads. Day 4: a systemic fault (more than
    # max_failing_record_share of its records), so the whole day is held.
    _add_odd_records(landing, DAYS[0], 2, "quarantined")
    _add_odd_records(landing, DAYS[3], 30, "held")
    runs = {engine: _settings(tmp_path / engine, landing, engine) for engine in ("duckdb", "spark")}

    # First build: three landing days.
    for engine, (settings, env) in runs.items():
        _run_window(settings, env, DAYS[:3], tmp_path / f"dbt-{engine}-1")
    _assert_same_tables(runs["duckdb"][0], runs["spark"][0])
    spark_settings = runs["spark"][0]
    with connect(spark_settings, read_only=True) as connection:
        quarantined = connection.execute(
            "SELECT request_id FROM raw.quarantined_records"
        ).fetchall()
    assert sorted(quarantined) == [("odd_quarantined_0",), ("odd_quarantined_1",)]
    assert (
        not connect(spark_settings, read_only=True)
        .execute("SELECT * FROM raw.pending_model_builds")
        .fetchall()
    ), "the Spark build did not record what it caught up with"

    # Incremental build: day 2 gets a second file (the day is replaced: its rows must not
    # be counted twice) and loses records from its first (raw.replaced_deliveries), and
    # day 4 brings late records for day 3.
    _add_file(landing, DAYS[1], seed=12, scratch=tmp_path / "second_file")
    _withdraw_records(landing, DAYS[1], 5)
    for engine, (settings, env) in runs.items():
        load_partition(settings, DAYS[1])
        with connect(settings, read_only=True) as connection:
            (replaced,) = connection.execute(
                "SELECT count(*) FROM raw.replaced_deliveries"
            ).fetchone()
        assert replaced > 0, engine
        _run_window(settings, env, [DAYS[1], DAYS[3]], tmp_path / f"dbt-{engine}-2")
    _assert_same_tables(runs["duckdb"][0], runs["spark"][0])
    with connect(spark_settings, read_only=True) as connection:
        held = connection.execute("SELECT landing_date FROM raw.quality_holds").fetchall()
        replaced = connection.execute("SELECT count(*) FROM raw.replaced_deliveries").fetchone()
    assert held == [(DAYS[3],)]
    assert replaced == (0,), "the build did not clear the replaced deliveries it read"


def test_spark_reads_the_raw_columns_the_ingest_ddl_declares(tmp_path) -> None:
    """Spark declares the raw tables with the columns it reads from the lake's column
    files (macros/spark_raw_tables.sql); read by Spark itself, they are the warehouse's
    DDL (ingest/raw_tables.py, raw.request_logs derived from the JSON Schema) in Spark's
    type names, the dimensions' columns and tags' list included."""
    import duckdb

    from ingest.raw_tables import raw_schema_ddl

    spark_session = pytest.importorskip("pyspark.sql").SparkSession  # the spark extra's

    settings, _ = _settings(tmp_path / "data", tmp_path / "landing", "spark")
    lake.ensure_lake(settings)
    connection = duckdb.connect()
    connection.execute(raw_schema_ddl())
    spark_type = {
        "VARCHAR": "string",
        "BIGINT": "bigint",
        "INTEGER": "int",
        "DOUBLE": "double",
        "BOOLEAN": "boolean",
        "TIMESTAMP WITH TIME ZONE": "timestamp",
        "VARCHAR[]": "array<string>",
    }
    spark = (
        spark_session.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    )
    try:
        for table, folder in lake.LAKE_FOLDERS.items():
            path = lake.raw_dir(settings) / lake.COLUMNS_FOLDER / f"{folder}.parquet"
            declared = [
                (row.col_name, row.data_type)
                for row in spark.sql(f"DESCRIBE QUERY SELECT * FROM parquet.`{path}`").collect()
            ]
            columns = connection.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'raw' "
                "AND table_name = ? AND column_name <> 'landing_date' ORDER BY column_index",
                [table],
            ).fetchall()
            assert declared == [(name, spark_type[kind]) for name, kind in columns], table
            if table == "request_logs":
                assert ("tags", "array<string>") in declared
                assert ("team_id", "string") in declared
    finally:
        spark.stop()
