"""The raw tables that ingest owns, as DuckDB DDL: the warehouse file's (ingest/warehouse.py),
the lake's on Spark (ingest/lake.py) and, through the Parquet files the lake writes,
Spark's own (dbt_project/macros/spark_raw_tables.sql).

raw.request_logs holds one column per field of the request-log contract, derived from
its JSON Schema (ingest/schema/request_log.schema.json, read by ingest/contract.py):
a field added there is a column here, in DuckDB, in the lake and in Spark, with nothing
written by hand a second time. A warehouse built before a field existed gains its
column (NULL for the rows it held) the next time ingest opens it.
"""

from __future__ import annotations

from functools import cache

from ingest import contract

# raw.request_logs' columns before and after the contract's fields: where the record
# came from (landing_date: the landing day dt=... it was delivered in; line_number: its
# 1-based line, or row of a Parquet file) and when it was loaded.
_DELIVERY_COLUMNS = (
    ("landing_date", "DATE NOT NULL"),
    ("source_file", "VARCHAR NOT NULL"),
    ("line_number", "BIGINT NOT NULL"),
)
_LOAD_COLUMNS = (("ingested_at", "TIMESTAMPTZ NOT NULL"),)


def request_logs_columns() -> list[tuple[str, str]]:
    """raw.request_logs' (column, DuckDB type), in order: NOT NULL where the contract
    requires the field and allows no null."""
    fields = [
        (f.name, f.sql_type + (" NOT NULL" if f.required and not f.nullable else ""))
        for f in contract.fields()
    ]
    return [*_DELIVERY_COLUMNS, *fields, *_LOAD_COLUMNS]


def _request_logs_ddl() -> str:
    columns = ",\n".join(f"    {name} {kind}" for name, kind in request_logs_columns())
    # Fields added to the contract after a warehouse was built: ALTER gives that
    # warehouse their columns (NULL for the rows it held); a new one has them already.
    added = "\n".join(
        f"ALTER TABLE raw.request_logs ADD COLUMN IF NOT EXISTS {f.name} {f.sql_type};"
        for f in contract.fields()
        if not f.required or f.nullable
    )
    return (
        "-- One row per valid record delivered, duplicates included: staging de-duplicates.\n"
        f"CREATE TABLE IF NOT EXISTS raw.request_logs (\n{columns}\n);\n{added}\n"
    )


_OTHER_TABLES = """
CREATE SCHEMA IF NOT EXISTS raw;

{request_logs}
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


@cache
def raw_schema_ddl() -> str:
    """The DDL of every raw table ingest owns (CREATE ... IF NOT EXISTS, then the columns
    added since): run by ingest before each load, and by the lake's readers."""
    return _OTHER_TABLES.format(request_logs=_request_logs_ddl())
