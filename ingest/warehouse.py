"""Opening the DuckDB warehouse file, and creating the raw tables that ingest owns
(ingest/raw_tables.py declares them).

DuckDB lets one process write a database file at a time. Readers and writers that find
the file locked wait a bounded time and then fail with one sentence saying so, never a
raw lock traceback.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import duckdb

from config.settings import Settings
from ingest.raw_tables import raw_schema_ddl


class WarehouseBusyError(RuntimeError):
    """Another process holds the warehouse file for writing."""


class WarehouseMissingError(RuntimeError):
    """A reader asked for a warehouse file that has not been built yet."""


def _is_lock_error(error: duckdb.Error) -> bool:
    return "lock" in str(error).lower()


def connect(
    settings: Settings,
    *,
    read_only: bool = False,
    wait_seconds: float = 0.0,
    config: dict | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to `wait_seconds` while another process writes it.

    `config` adds DuckDB settings to the connection (readers use it to lock themselves
    inside the warehouse file).

    On Spark (LLM_USAGE_ENGINE=spark) readers get the lake instead: an in-memory DuckDB
    over its Parquet files (ingest/lake.py), with the same schema and table names. It
    must read those files, so `config`'s confinement does not apply there
    (docs/scaling.md).
    """
    if settings.on_spark and read_only:
        from ingest import lake

        if not settings.lake_dir.is_dir():
            raise WarehouseMissingError(
                f"No lake at {settings.lake_dir}. Run `llm-usage materialize` first, or "
                "point LLM_USAGE_LAKE_DIR at an existing one."
            )
        return lake.connect_lake(settings)
    path: Path = settings.warehouse_path
    if read_only and not path.exists():
        raise WarehouseMissingError(
            f"No warehouse at {path}. Run `llm-usage materialize` (or `llm-usage demo`) "
            "first, or point LLM_USAGE_WAREHOUSE at an existing file."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            connection = duckdb.connect(
                str(path),
                read_only=read_only,
                config={
                    "memory_limit": settings.duckdb_memory_limit,
                    "threads": settings.duckdb_threads,
                    **(config or {}),
                },
            )
            # Sessions render and truncate timestamps in UTC; reporting time zones are
            # applied explicitly in the models, never through the session setting.
            connection.execute("SET TimeZone = 'UTC'")
            return connection
        except duckdb.Error as error:
            if not _is_lock_error(error):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(
                    f"The warehouse {path} is being written by another process "
                    "(a Dagster run, probably); retry when it has finished."
                ) from None
            time.sleep(0.5)


def ensure_raw_schema(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(raw_schema_ddl())


def request_model_build(
    connection: duckdb.DuckDBPyConnection, landing_dates: list[date], requested_by: str
) -> None:
    """Queue landing days for the next dbt build (raw.pending_model_builds).

    Runs in the caller's transaction, if it has one, so that a load and its request
    commit together.
    """
    connection.execute(
        "DELETE FROM raw.pending_model_builds WHERE landing_date IN (SELECT unnest(?))",
        [landing_dates],
    )
    connection.executemany(
        "INSERT INTO raw.pending_model_builds VALUES (?, ?, now())",
        [(day, requested_by) for day in landing_dates],
    )


def pending_model_builds(connection: duckdb.DuckDBPyConnection) -> list[tuple[date, datetime]]:
    """The landing days the facts and marts have not caught up with, oldest request first.

    Empty on a warehouse built before the table existed.
    """
    exists = connection.execute(
        # Views too: on Spark the queue is a view over the lake (ingest/lake.py).
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'raw' AND table_name = 'pending_model_builds'"
    ).fetchone()[0]
    if not exists:
        return []
    return connection.execute(
        "SELECT landing_date, requested_at FROM raw.pending_model_builds "
        "ORDER BY requested_at, landing_date"
    ).fetchall()
