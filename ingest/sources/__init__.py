"""Reading what real gateways write: LiteLLM's standard logging payloads and spend logs,
and OpenRouter's generation records (docs/sources.md).

`sources.toml` in the landing root says which gateway's records each source folder holds
(ingest/sources/config.py). For a landing day, `read_day` reads each source folder's
`dt=YYYY-MM-DD/` files in a few batches and gives, per batch, the SQL that maps the
batch's records onto the contract: the loader (ingest/load.py) then checks, quarantines
and loads them exactly like lines of our own format. Mapping is one DuckDB query per
batch over all its records, never a Python loop per record (`check_batch`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from config.settings import Settings
from ingest import contract
from ingest.sources import litellm, litellm_spend_logs, openrouter
from ingest.sources.config import SourceFolder, source_folders
from ingest.sources.files import FileRead, read_batches
from ingest.sources.mapping import READS_PENDING, Records


@dataclass(frozen=True)
class Adapter:
    mapping_sql: Callable[..., str]  # (folder, Records, judge_reads=bool) -> SQL
    suffixes: tuple[str, ...]  # the file types a folder of this format may hold


ADAPTERS = {
    "litellm": Adapter(litellm.mapping_sql, (".json", ".jsonl", ".jsonl.gz")),
    "litellm_spend_logs": Adapter(
        litellm_spend_logs.mapping_sql, (".csv", ".csv.gz", ".json", ".jsonl", ".jsonl.gz")
    ),
    "openrouter": Adapter(openrouter.mapping_sql, (".json", ".jsonl", ".jsonl.gz")),
}
# The relation a batch's records are registered as while its SQL runs.
RECORDS_RELATION = "source_records"


@dataclass(frozen=True)
class SourceDay:
    """One source folder's files for one landing day."""

    folder: SourceFolder
    files: list[Path]  # to load, in name order
    skipped: list[Path]  # of a type the folder's format does not have
    # Sub-folders, links that lead nowhere, sockets: not read, and the loader says why.
    not_files: list[Path]

    @property
    def skipped_reason(self) -> str:
        suffixes = ", ".join(ADAPTERS[self.folder.format].suffixes)
        return f"not loaded: a {self.folder.format} folder's files are read when they end in {suffixes}"


@dataclass
class Batch:
    """Records of some files of one source folder, and how to map them (`check_batch`)."""

    files: list[FileRead]
    records: pa.Table | None  # files.RecordsRead's; None if unreadable
    folder: SourceFolder
    shape: str  # "lines", "documents" or "csv" (files.py)
    csv_header: tuple[str, ...] | None = None  # what the cells of a CSV table are


def source_days(settings: Settings, landing_date: date) -> list[SourceDay]:
    """Every declared source folder that has a folder for the landing day."""
    days = []
    for folder in source_folders(settings):
        path = folder.day_folder(landing_date)
        if not path.is_dir():
            continue
        entries = sorted(p for p in path.iterdir() if not p.name.startswith((".", "_")))
        candidates = [p for p in entries if p.is_file()]
        suffixes = ADAPTERS[folder.format].suffixes
        files = [p for p in candidates if p.name.endswith(suffixes)]
        skipped = [p for p in candidates if not p.name.endswith(suffixes)]
        not_files = [p for p in entries if not p.is_file()]
        days.append(SourceDay(folder, files, skipped, not_files))
    return days


def landing_days(settings: Settings) -> set[date]:
    """The landing days that have a folder in some declared source folder."""
    days = set()
    for folder in source_folders(settings):
        for path in folder.root.glob("dt=*") if folder.root.is_dir() else ():
            try:
                days.add(date.fromisoformat(path.name[3:]))
            except ValueError:
                continue
    return days


# A .json document holds one record, an array of records, or an API response whose
# "data" member holds either; each record is numbered by its place in the document.
_WRAPPED = "(starts_with(ltrim(record), '[') OR contains(record, '\"data\":'))"
_DOCUMENT_RECORDS = f"""(
    -- Most documents are one record: only those that may be an array or an envelope
    -- (a cheap look at the text) are parsed here.
    SELECT source_file, 1 AS line_number, record, read_error
    FROM {RECORDS_RELATION} WHERE NOT {_WRAPPED}
    UNION ALL (
        WITH shaped AS (
            SELECT
                source_file,
                record AS document,
                read_error,
                CASE WHEN read_error IS NULL AND json_valid(record) THEN
                    CASE WHEN json_type(record) = 'OBJECT'
                              AND json_type(record, '$.data') IN ('OBJECT', 'ARRAY')
                         THEN json_extract(record, '$.data') ELSE CAST(record AS JSON) END
                END AS body
            FROM {RECORDS_RELATION} WHERE {_WRAPPED}
        )
        SELECT source_file, 1 AS line_number,
               CASE WHEN body IS NULL THEN document ELSE CAST(body AS VARCHAR) END AS record,
               read_error
        FROM shaped
        WHERE body IS NULL OR json_type(body) <> 'ARRAY'
        UNION ALL
        SELECT source_file, generate_subscripts(items, 1) AS line_number,
               CAST(unnest(items) AS VARCHAR) AS record, NULL AS read_error
        FROM (SELECT source_file, json_extract(body, '$[*]') AS items
              FROM shaped WHERE json_type(body) = 'ARRAY')
    )
)"""
# A JSON Lines or CSV file already has one record per row.
_ONE_RECORD_PER_ROW = f"(SELECT * FROM {RECORDS_RELATION})"
_RECORDS = {
    "lines": _ONE_RECORD_PER_ROW,
    "csv": _ONE_RECORD_PER_ROW,
    "documents": _DOCUMENT_RECORDS,
}


def read_day(days: list[SourceDay]) -> Iterator[Batch]:
    """The batches of the source folders' files of one landing day, one at a time: each
    holds JSON Lines files, CSV files of one header, or JSON documents, of at most
    BATCH_BYTES of records (files.read_batches)."""
    for day in days:
        for read in read_batches(day.files):
            yield Batch(read.files, read.records, day.folder, read.shape, read.csv_header)


def check_batch(connection: duckdb.DuckDBPyConnection, batch: Batch, table: str) -> None:
    """Map the batch's records onto the contract, check them and insert them into `table`
    (which has the columns of contract.validated_lines_sql).

    The first query maps and checks every record without the sentences that name a
    source field that cannot be read; the records that need them (rare: none on most
    days) are mapped again with the sentences, and their reasons replaced."""
    if batch.records is None:
        return
    adapter = ADAPTERS[batch.folder.format]
    records = Records(_RECORDS[batch.shape], batch.csv_header)
    connection.register(RECORDS_RELATION, batch.records)
    try:
        quick = adapter.mapping_sql(batch.folder, records, judge_reads=False)
        connection.execute(f"INSERT INTO {table} {contract.validated_lines_sql(f'({quick})')}")
        pending = f"SELECT source_file, line_number FROM {table} WHERE reason = $pending"
        ((unread_count,),) = connection.execute(
            f"SELECT count(*) FROM ({pending})", {"pending": READS_PENDING}
        ).fetchall()
        if unread_count:
            unread = Records(
                f"(SELECT * FROM {records.relation} WHERE (source_file, line_number) IN ({pending}))",
                batch.csv_header,
            )
            judged = adapter.mapping_sql(batch.folder, unread)
            connection.execute(
                f"""
                UPDATE {table} SET reason = judged.read_error
                FROM ({judged}) AS judged
                WHERE {table}.reason = $pending
                  AND {table}.source_file = judged.source_file
                  AND {table}.line_number = judged.line_number
                """,
                {"pending": READS_PENDING},
            )
    finally:
        connection.unregister(RECORDS_RELATION)
