"""Opening the DuckDB warehouse file, and the raw tables that ingest owns.

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

RAW_SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;

-- One row per valid record delivered, duplicates included: staging de-duplicates.
CREATE TABLE IF NOT EXISTS raw.request_logs (
    landing_date        DATE NOT NULL,      -- the landing day (dt=...) the record was delivered in
    source_file         VARCHAR NOT NULL,
    line_number         BIGINT NOT NULL,    -- 1-based line (JSON Lines) or row (Parquet)
    request_id          VARCHAR NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    api_key_id          VARCHAR NOT NULL,
    api_key_name        VARCHAR,
    model               VARCHAR NOT NULL,
    provider            VARCHAR NOT NULL,
    billing_mode        VARCHAR NOT NULL,
    status              VARCHAR NOT NULL,
    http_status         INTEGER,
    error_type          VARCHAR,
    finish_reason       VARCHAR,
    stream              BOOLEAN NOT NULL,
    input_tokens        BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    cached_input_tokens BIGINT,             -- NULL = the log did not say
    cache_write_tokens  BIGINT,
    reasoning_tokens    BIGINT,
    web_search_calls    BIGINT,
    latency_ms          DOUBLE NOT NULL,
    first_token_ms      DOUBLE,
    cost_usd            DOUBLE,
    schema_version      BIGINT,
    ingested_at         TIMESTAMPTZ NOT NULL
);

-- Lines that broke the contract, kept verbatim with the reason, so nothing is lost.
CREATE TABLE IF NOT EXISTS raw.request_logs_rejected (
    landing_date DATE NOT NULL,
    source_file  VARCHAR NOT NULL,
    line_number  BIGINT,                    -- NULL when the whole file was unreadable
    raw_line     VARCHAR,
    reason       VARCHAR NOT NULL,
    ingested_at  TIMESTAMPTZ NOT NULL
);

-- Landing days a blocking data-quality check rejected (orchestration/checks.py). Staging
-- leaves their records out, so a later run that rebuilds one of their event days (for a
-- late record) cannot carry them into the facts; a re-run that passes lifts the hold.
CREATE TABLE IF NOT EXISTS raw.quality_holds (
    landing_date  DATE NOT NULL,
    failed_checks VARCHAR NOT NULL,
    held_at       TIMESTAMPTZ NOT NULL
);

-- Landing days whose raw records changed after the facts and marts last caught up with
-- them: ingest adds its day in the same transaction as the load, the Dagster dbt step
-- adds its window, and a dbt build that rebuilt every model removes the rows it started
-- from (dbt_project/macros/pending_model_builds.sql). A build that died midway leaves
-- its rows here, so the next build of any day rebuilds those days too.
CREATE TABLE IF NOT EXISTS raw.pending_model_builds (
    landing_date DATE NOT NULL,
    requested_by VARCHAR NOT NULL,          -- 'ingest' or 'dbt step'
    requested_at TIMESTAMPTZ NOT NULL
);

-- Every file read, one row per landing day and file.
CREATE TABLE IF NOT EXISTS raw.ingested_files (
    landing_date  DATE NOT NULL,
    path          VARCHAR NOT NULL,
    size_bytes    BIGINT NOT NULL,
    modified_at   TIMESTAMPTZ NOT NULL,
    sha256        VARCHAR NOT NULL,
    rows_loaded   BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    error         VARCHAR,                  -- why the file could not be read, if it could not
    ingested_at   TIMESTAMPTZ NOT NULL
);
-- Lines (or Parquet rows) the file holds, counted from its bytes (or footer) apart from
-- parsing: rows_loaded + rows_rejected = lines_read for every file read, and for a gzip
-- file cut short, the lines before the cut. Added after the table first shipped.
ALTER TABLE raw.ingested_files ADD COLUMN IF NOT EXISTS lines_read BIGINT;

-- Deliveries that a re-load of their landing day took away or changed (a file removed, a
-- record withdrawn or corrected to another created_at). Raw no longer holds them, yet
-- the event days they were on must be rebuilt; the next build reads them
-- (int_event_dates_touched_by_run) and its on-run-end hook clears them.
CREATE TABLE IF NOT EXISTS raw.replaced_deliveries (
    landing_date DATE NOT NULL,
    request_id   VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    replaced_at  TIMESTAMPTZ NOT NULL
);

-- Records a blocking record-level data-quality rule rejected (quality/rules.py), with the
-- rules as the reason. Staging leaves them out; the rest of their landing day loads. A
-- re-load of the day clears its rows and the checks judge the new records again.
CREATE TABLE IF NOT EXISTS raw.quarantined_records (
    landing_date   DATE NOT NULL,
    source_file    VARCHAR NOT NULL,
    line_number    BIGINT NOT NULL,
    request_id     VARCHAR,
    reason         VARCHAR NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
);

-- Entries of the landing directory that were not read, and why: links that leave it or
-- lead nowhere, folders inside a landing day, files of other formats, dt= folders that
-- are not a real date. Nothing of their content is read or stored.
CREATE TABLE IF NOT EXISTS raw.landing_anomalies (
    landing_date DATE,                      -- NULL: an entry of the landing directory itself
    path         VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    size_bytes   BIGINT,
    reason       VARCHAR NOT NULL,
    detected_at  TIMESTAMPTZ NOT NULL
);
"""


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
        return lake.connect_lake(settings, RAW_SCHEMA_DDL)
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
    connection.execute(RAW_SCHEMA_DDL)


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
