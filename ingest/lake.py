"""The raw tables as Parquet files, for LLM_USAGE_ENGINE=spark (docs/scaling.md).

On Spark the warehouse is a directory, `settings.lake_dir`:

    raw/<table>/landing_date=YYYY-MM-DD/part-0.parquet   one folder per landing day, written here
    raw/model_builds_caught_up/*.parquet                 appended by dbt on Spark
    spark-warehouse/<schema>.db/<table>/                 Spark's tables: dbt's facts and marts
    metastore_db/                                        Spark's catalog (embedded Derby)

The ingest stays DuckDB's: DuckDB reads the landing files and checks them with the SQL
that ingest/contract.py compiles from the JSON Schema, in memory, and the checked day is
written here instead of into the warehouse file. Spark reads these files as the `raw`
tables (dbt_project/macros/spark_raw_tables.sql), so there is one rule set, not one per
engine.

Readers (the checks, `llm-usage sql`, `report`, the dashboard) see the same lake through
`connect_lake`: an in-memory DuckDB whose `raw` schema and dbt schemas (`main_facts`,
`main_marts`, ...) are views over these Parquet files, under the names the DuckDB
warehouse uses, so the same SQL runs on either engine.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from pathlib import Path

import duckdb

from config.settings import Settings

# Table in the DuckDB warehouse -> its folder in the lake. The queue of model builds is
# the requests (written here) less what builds caught up with (written by dbt), so its
# lake folder has another name than the view readers see.
LAKE_FOLDERS = {
    "request_logs": "request_logs",
    "request_logs_rejected": "request_logs_rejected",
    "ingested_files": "ingested_files",
    "quality_holds": "quality_holds",
    "pending_model_builds": "model_build_requests",
}
CAUGHT_UP_FOLDER = "model_builds_caught_up"


def raw_dir(settings: Settings) -> Path:
    return settings.lake_dir / "raw"


def spark_warehouse_dir(settings: Settings) -> Path:
    return settings.lake_dir / "spark-warehouse"


def scratch_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the warehouse's settings, for work whose result goes to
    the lake."""
    connection = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": settings.duckdb_memory_limit,
            "threads": settings.duckdb_threads,
        },
    )
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def ensure_lake(settings: Settings) -> None:
    for folder in [*LAKE_FOLDERS.values(), CAUGHT_UP_FOLDER]:
        (raw_dir(settings) / folder).mkdir(parents=True, exist_ok=True)


def replace_day(
    connection: duckdb.DuckDBPyConnection,
    settings: Settings,
    table: str,
    landing_date: date,
    query: str,
    params: list | None = None,
) -> None:
    """Make `query`'s rows (the table's columns but landing_date) the landing day's
    partition of raw table `table`, replacing what it held; no rows, no partition.

    The day is written beside the table and then renamed into place: a crash leaves the
    previous day whole. Between the two renames a reader sees the day missing for a
    moment; on a cluster, a table format with transactions (Delta, Iceberg) closes that
    gap (docs/scaling.md).
    """
    folder = raw_dir(settings) / LAKE_FOLDERS[table]
    target = folder / f"landing_date={landing_date.isoformat()}"
    ensure_lake(settings)
    staging = raw_dir(settings) / ".staging" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    try:
        written = staging / "part-0.parquet"
        has_rows = connection.execute(
            f"COPY ({query}) TO '{written}' (FORMAT parquet, COMPRESSION zstd)", params or []
        ).fetchone()[0] > 0
        old = staging.with_name(staging.name + "-old")
        if target.exists():
            target.rename(old)
        if has_rows:
            folder.mkdir(parents=True, exist_ok=True)
            staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _parquet_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.rglob("*.parquet"))


def connect_lake(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose raw and dbt schemas are views over the lake's files."""
    from ingest.warehouse import RAW_SCHEMA_DDL  # the raw tables' columns and types

    connection = scratch_connection(settings)
    # The warehouse's own DDL, in a schema of empty tables: the columns, their order and
    # types that every view below returns, and the rows of a table with no files yet.
    connection.execute(RAW_SCHEMA_DDL.replace("raw.", "raw_columns.").replace(
        "CREATE SCHEMA IF NOT EXISTS raw;", "CREATE SCHEMA raw_columns; CREATE SCHEMA raw;"
    ))
    for table, folder_name in LAKE_FOLDERS.items():
        folder = raw_dir(settings) / folder_name
        columns = connection.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'raw_columns' AND table_name = ? ORDER BY column_index",
            [table],
        ).fetchall()
        if _parquet_files(folder):
            typed = ", ".join(f'CAST("{name}" AS {kind}) AS "{name}"' for name, kind in columns)
            source = (
                f"SELECT {typed} FROM read_parquet('{folder}/*/*.parquet', "
                "hive_partitioning = true, hive_types = {'landing_date': 'DATE'})"
            )
        else:
            source = f"SELECT * FROM raw_columns.{table}"
        view = "raw_requests_of_builds" if table == "pending_model_builds" else table
        connection.execute(f"CREATE VIEW raw.{view} AS {source}")
    caught_up = raw_dir(settings) / CAUGHT_UP_FOLDER
    caught_up_rows = (
        f"SELECT CAST(landing_date AS DATE) AS landing_date, "
        f"CAST(requested_at AS TIMESTAMPTZ) AS requested_at FROM read_parquet('{caught_up}/*.parquet')"
        if _parquet_files(caught_up)
        else "SELECT NULL::DATE AS landing_date, NULL::TIMESTAMPTZ AS requested_at WHERE false"
    )
    connection.execute(
        f"""CREATE VIEW raw.pending_model_builds AS
        SELECT * FROM raw.raw_requests_of_builds AS queued
        WHERE NOT EXISTS (
            SELECT 1 FROM ({caught_up_rows}) AS caught_up
            WHERE caught_up.landing_date = queued.landing_date
              AND caught_up.requested_at = queued.requested_at)"""
    )
    # dbt's tables on Spark, under the schema names dbt gives them on DuckDB. Staging and
    # audit models are Spark views, which only Spark can read.
    warehouse = spark_warehouse_dir(settings)
    for schema_dir in sorted(warehouse.glob("*.db")) if warehouse.is_dir() else []:
        schema = schema_dir.name.removesuffix(".db")
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
            if _parquet_files(table_dir):
                connection.execute(
                    f'CREATE VIEW "{schema}"."{table_dir.name}" AS SELECT * FROM '
                    f"read_parquet('{table_dir}/**/*.parquet', hive_partitioning = true)"
                )
    return connection


def _days(first: date, last: date) -> list[date]:
    return [date.fromordinal(d) for d in range(first.toordinal(), last.toordinal() + 1)]


def request_model_build(settings: Settings, landing_dates: list[date], requested_by: str) -> None:
    """Queue landing days for the next dbt build: ingest/warehouse.py's
    request_model_build, on the lake."""
    connection = scratch_connection(settings)
    try:
        for day in landing_dates:
            replace_day(
                connection, settings, "pending_model_builds", day,
                "SELECT CAST(? AS VARCHAR) AS requested_by, now() AS requested_at", [requested_by],
            )
    finally:
        connection.close()


def replace_quality_holds(settings: Settings, first: date, last: date, failed_checks: list[str]) -> None:
    """Hold landing days [first, last] out of staging when `failed_checks` is not empty,
    else release them: quality/rules.py's record_holds, on the lake."""
    connection = scratch_connection(settings)
    try:
        for day in _days(first, last):
            replace_day(
                connection, settings, "quality_holds", day,
                "SELECT CAST(? AS VARCHAR) AS failed_checks, now() AS held_at WHERE ?",
                [", ".join(failed_checks), bool(failed_checks)],
            )
    finally:
        connection.close()
