"""The raw tables as Parquet files, for LLM_USAGE_ENGINE=spark (docs/scaling.md).

On Spark the warehouse is a directory, `settings.lake_dir`:

    raw/<table>/landing_date=YYYY-MM-DD/part-0.parquet   one folder per landing day, written here
    raw/landing_anomalies/part-0.parquet                 one file, rewritten by each load
    raw/model_builds_caught_up/*.parquet                 appended by dbt on Spark
    raw/model_build_settings/*.parquet                   overwritten by dbt on Spark
    raw/_columns/<table>.parquet                         no rows: each raw table's columns
    spark-warehouse/<schema>.db/<table>/                 Spark's tables: dbt's facts and marts
    metastore_db/                                        Spark's catalog (embedded Derby)

The ingest stays DuckDB's: DuckDB reads the landing files and checks them with the SQL
that ingest/contract.py compiles from the JSON Schema, in memory, and the checked day is
written here instead of into the warehouse file. Spark reads these files as the `raw`
tables (dbt_project/macros/spark_raw_tables.sql), so there is one rule set, not one per
engine. Spark takes each table's columns from `raw/_columns/<table>.parquet`, a file of no
rows written here from the warehouse's DDL (ingest/raw_tables.py, which derives
raw.request_logs from the contract's JSON Schema): the columns are declared once.

Readers (the checks, `llm-usage sql`, `report`, the dashboard) see the same lake through
`connect_lake`: an in-memory DuckDB whose `raw` schema and dbt schemas (`main_facts`,
`main_marts`, ...) are views over these Parquet files, under the names the DuckDB
warehouse uses, so the same SQL runs on either engine.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import cache
from pathlib import Path

import duckdb

from config.settings import Settings
from ingest.raw_tables import raw_schema_ddl

# Table in the DuckDB warehouse -> its folder in the lake, one partition per landing day.
# The queue of model builds and the replaced deliveries are what ingest writes here less
# what builds caught up with (written by dbt, which cannot DELETE from Parquet), so their
# folders have other names than the views readers see.
LAKE_FOLDERS = {
    "request_logs": "request_logs",
    "request_logs_rejected": "request_logs_rejected",
    "ingested_files": "ingested_files",
    "quality_holds": "quality_holds",
    "quarantined_records": "quarantined_records",
    "pending_model_builds": "model_build_requests",
    "replaced_deliveries": "replaced_delivery_records",
}
CAUGHT_UP_FOLDER = "model_builds_caught_up"
# Each LAKE_FOLDERS table's columns, as a Parquet file of no rows per folder name, which
# Spark reads the schema of (dbt_project/macros/spark_raw_tables.sql).
COLUMNS_FOLDER = "_columns"
# Table -> its folder, one file for the whole table: the landing directory's anomalies
# include entries of no landing day (landing_date NULL), and there are few of them.
WHOLE_TABLE_FOLDERS = {"landing_anomalies": "landing_anomalies"}
# Written by dbt on Spark (dbt_project/macros/spark_raw_tables.sql); read here only.
SPARK_WRITTEN_FOLDERS = {"model_build_settings": "model_build_settings"}
# What a caught-up build (landing_date, requested_at) clears, per table ingest writes:
# a queue entry it started from, a delivery replaced before that request.
CLEARED_BY_CAUGHT_UP = {
    "pending_model_builds": "caught_up.requested_at = queued.requested_at",
    "replaced_deliveries": "queued.replaced_at <= caught_up.requested_at",
}


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
    for folder in [*LAKE_FOLDERS.values(), *WHOLE_TABLE_FOLDERS.values(), CAUGHT_UP_FOLDER]:
        (raw_dir(settings) / folder).mkdir(parents=True, exist_ok=True)
    _write_columns(raw_dir(settings).resolve())


def _declared_columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """A raw table's (column, type) but landing_date (the partition folders' name), in
    the schema `raw_columns` that holds the warehouse's DDL."""
    return connection.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'raw_columns' "
        "AND table_name = ? AND column_name <> 'landing_date' ORDER BY column_index",
        [table],
    ).fetchall()


def _with_declared_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's DDL, as empty tables in the schema `raw_columns`."""
    connection.execute(
        raw_schema_ddl()
        .replace("raw.", "raw_columns.")
        .replace("CREATE SCHEMA IF NOT EXISTS raw;", "CREATE SCHEMA IF NOT EXISTS raw_columns;")
    )


@cache
def _write_columns(raw: Path) -> None:
    """Write raw/_columns/<folder>.parquet for each LAKE_FOLDERS table where it is missing
    or holds other columns than the DDL declares (once per process and lake): a lake
    written by an earlier version gets the columns added since."""
    folder = raw / COLUMNS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(":memory:")
    try:
        _with_declared_tables(connection)
        for table, name in LAKE_FOLDERS.items():
            target = folder / f"{name}.parquet"
            declared = _declared_columns(connection, table)
            if target.exists():
                written = connection.execute(
                    f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{target}'))"
                ).fetchall()
                if written == declared:
                    continue
            staging = folder / f".{name}.{uuid.uuid4().hex}.parquet"
            connection.execute(
                f"COPY (SELECT * EXCLUDE (landing_date) FROM raw_columns.{table} LIMIT 0) "
                f"TO '{staging}' (FORMAT parquet)"
            )
            staging.replace(target)
    finally:
        connection.close()


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
    _replace_folder(
        connection, settings, folder / f"landing_date={landing_date.isoformat()}", query, params
    )


def replace_table(
    connection: duckdb.DuckDBPyConnection, settings: Settings, table: str, query: str
) -> None:
    """Make `query`'s rows the whole of raw table `table` (one of WHOLE_TABLE_FOLDERS),
    as replace_day does for a day."""
    _replace_folder(connection, settings, raw_dir(settings) / WHOLE_TABLE_FOLDERS[table], query)


def _replace_folder(
    connection: duckdb.DuckDBPyConnection,
    settings: Settings,
    target: Path,
    query: str,
    params: list | None = None,
) -> None:
    folder = target.parent
    ensure_lake(settings)
    staging = raw_dir(settings) / ".staging" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    try:
        written = staging / "part-0.parquet"
        has_rows = (
            connection.execute(
                f"COPY ({query}) TO '{written}' (FORMAT parquet, COMPRESSION zstd)", params or []
            ).fetchone()[0]
            > 0
        )
        old = staging.with_name(staging.name + "-old")
        if target.exists():
            target.rename(old)
        if has_rows:
            folder.mkdir(parents=True, exist_ok=True)
            staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _quoted(name: str) -> str:
    return f'"{name}"'


def _parquet_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.rglob("*.parquet"))


def connect_lake(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose raw and dbt schemas are views over the lake's files."""
    connection = scratch_connection(settings)
    # The warehouse's own DDL, in a schema of empty tables: the columns, their order and
    # types that every view below returns, and the rows of a table with no files yet.
    _with_declared_tables(connection)
    connection.execute("CREATE SCHEMA raw")
    for table, folder_name in LAKE_FOLDERS.items():
        folder = raw_dir(settings) / folder_name
        columns = connection.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'raw_columns' AND table_name = ? ORDER BY column_index",
            [table],
        ).fetchall()
        if _parquet_files(folder):
            # Days written before a column was declared lack it: read by name, the
            # column is NULL there (and in every row where no file has it yet).
            files = (
                f"read_parquet('{folder}/*/*.parquet', hive_partitioning = true, "
                "hive_types = {'landing_date': 'DATE'}, union_by_name = true)"
            )
            present = {
                row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {files}").fetchall()
            }
            typed = ", ".join(
                f"CAST({_quoted(name) if name in present else 'NULL'} AS {kind}) AS {_quoted(name)}"
                for name, kind in columns
            )
            source = f"SELECT {typed} FROM {files}"
        else:
            source = f"SELECT * FROM raw_columns.{table}"
        view = f"{table}_recorded" if table in CLEARED_BY_CAUGHT_UP else table
        connection.execute(f"CREATE VIEW raw.{view} AS {source}")
    for table, folder_name in WHOLE_TABLE_FOLDERS.items():
        folder = raw_dir(settings) / folder_name
        source = (
            f"SELECT * FROM read_parquet('{folder}/*.parquet')"
            if _parquet_files(folder)
            else f"SELECT * FROM raw_columns.{table}"
        )
        connection.execute(f"CREATE VIEW raw.{table} AS {source}")
    settings_folder = raw_dir(settings) / SPARK_WRITTEN_FOLDERS["model_build_settings"]
    if _parquet_files(settings_folder):
        # As on DuckDB, the table exists once a complete build recorded its zone.
        connection.execute(
            "CREATE VIEW raw.model_build_settings AS SELECT CAST(reporting_timezone AS VARCHAR) "
            "AS reporting_timezone, CAST(recorded_at AS TIMESTAMPTZ) AS recorded_at "
            f"FROM read_parquet('{settings_folder}/*.parquet')"
        )
    caught_up = raw_dir(settings) / CAUGHT_UP_FOLDER
    caught_up_rows = (
        f"SELECT CAST(landing_date AS DATE) AS landing_date, "
        f"CAST(requested_at AS TIMESTAMPTZ) AS requested_at FROM read_parquet('{caught_up}/*.parquet')"
        if _parquet_files(caught_up)
        else "SELECT NULL::DATE AS landing_date, NULL::TIMESTAMPTZ AS requested_at WHERE false"
    )
    for table, cleared in CLEARED_BY_CAUGHT_UP.items():
        connection.execute(
            f"""CREATE VIEW raw.{table} AS
            SELECT * FROM raw.{table}_recorded AS queued
            WHERE NOT EXISTS (
                SELECT 1 FROM ({caught_up_rows}) AS caught_up
                WHERE caught_up.landing_date = queued.landing_date AND {cleared})"""
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


@contextmanager
def editing_days(
    connection: duckdb.DuckDBPyConnection,
    settings: Settings,
    tables: tuple[str, ...],
    first: date,
    last: date,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """`connection` (connect_lake's, which this closes), with raw `tables` as tables that the caller may
    change as it would the DuckDB warehouse's; on leaving, their landing days [first,
    last] are written back to the lake, whatever the caller did there (a transaction it
    rolled back leaves them as they were). Code written for the warehouse, such as the
    quality holds, thus runs unchanged on the lake.

    Only the window's rows are copied: the rest of the table is never written back, so
    reading every landing day's files would be work for nothing.
    """
    try:
        for table in tables:
            connection.execute(
                f"CREATE TEMP TABLE lake_{table} AS SELECT * FROM raw.{table} "
                "WHERE landing_date BETWEEN ? AND ?",
                [first, last],
            )
            connection.execute(f"DROP VIEW raw.{table}")
            connection.execute(f"CREATE TABLE raw.{table} AS SELECT * FROM lake_{table}")
            connection.execute(f"DROP TABLE lake_{table}")
        try:
            yield connection
        finally:
            for table in tables:
                for day in _days(first, last):
                    replace_day(
                        connection,
                        settings,
                        table,
                        day,
                        f"SELECT * EXCLUDE (landing_date) FROM raw.{table} WHERE landing_date = ?",
                        [day],
                    )
    finally:
        connection.close()


def request_model_build(settings: Settings, landing_dates: list[date], requested_by: str) -> None:
    """Queue landing days for the next dbt build: ingest/warehouse.py's
    request_model_build, on the lake."""
    connection = scratch_connection(settings)
    try:
        for day in landing_dates:
            replace_day(
                connection,
                settings,
                "pending_model_builds",
                day,
                "SELECT CAST(? AS VARCHAR) AS requested_by, now() AS requested_at",
                [requested_by],
            )
    finally:
        connection.close()
