"""Load one landing day of gateway logs into the raw tables, atomically.

`load_partition` reads every file of `landing/dt=YYYY-MM-DD/` (`.jsonl`, `.jsonl.gz`,
`.parquet`), and the day's folder of every source `landing/sources.toml` declares (other
gateways' records, mapped onto the contract by ingest/sources/), checks every record
against the contract, and replaces that day's rows in
`raw.request_logs`, `raw.request_logs_rejected` and `raw.ingested_files` in one
transaction: a re-run gives the same rows, and a crash half-way leaves the previous day.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ingest import contract, sources
from config.settings import Settings
from ingest.warehouse import connect, ensure_raw_schema, request_model_build

SUPPORTED_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")
SKIPPED_REASON = "not loaded: only .jsonl, .jsonl.gz and .parquet files are read"


@dataclass
class FileReport:
    path: str
    rows_loaded: int = 0
    rows_rejected: int = 0
    error: str | None = None


@dataclass
class PartitionReport:
    landing_date: date
    landing_path: Path
    files: list[FileReport] = field(default_factory=list)
    rows_loaded: int = 0
    rows_rejected: int = 0
    duplicates_in_day: int = 0  # extra deliveries of a request_id within this day
    duplicates_across_days: int = 0  # request_ids of this day also delivered on another day
    event_dates: list[date] = field(default_factory=list)  # UTC days the valid records fall on
    missing: bool = False  # the landing folder does not exist
    skipped_files: list[str] = field(default_factory=list)  # not .jsonl/.jsonl.gz/.parquet

    @property
    def unreadable_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error]

    def summary(self) -> str:
        if self.missing:
            return f"{self.landing_date}: no landing folder at {self.landing_path}; 0 rows loaded"
        text = (
            f"{self.landing_date}: {len(self.files)} files, {self.rows_loaded} rows loaded, "
            f"{self.rows_rejected} rejected, {self.duplicates_in_day} duplicate deliveries "
            f"in the day, {self.duplicates_across_days} already delivered on another day"
        )
        for bad in self.unreadable_files:
            text += f"\n  unreadable file {bad.path}: {bad.error}"
        for path in self.skipped_files:
            text += f"\n  skipped {path}: {SKIPPED_REASON}"
        return text


def landing_path(settings: Settings, landing_date: date) -> Path:
    return settings.landing_dir / f"dt={landing_date.isoformat()}"


def _landing_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """The files to load, and the files of a format the loader does not read.

    Names starting with "." or "_" (editor backups, `_SUCCESS` markers) are not logs.
    """
    candidates = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
    )
    supported = [p for p in candidates if p.name.endswith(SUPPORTED_SUFFIXES)]
    return supported, [p for p in candidates if p not in supported]


# What _read_lines returns for each file.
LINES_SCHEMA = pa.schema(
    [("line_number", pa.int64()), ("raw_line", pa.large_string()), ("read_error", pa.string())]
)
# Rows per Arrow record batch handed to DuckDB: it scans batches in parallel.
BATCH_ROWS = 100_000
# Bytes searched for newlines at a time: a search this size stays in the CPU cache.
NEWLINE_SEARCH_BYTES = 1 << 20


def _line_starts(data: bytes, start: int) -> np.ndarray:
    """Offsets where each line of `data[start:]` begins, and where the last one ends.

    A line keeps its "\n"; the empty piece after a final newline is not a line."""
    buffer = np.frombuffer(data, np.uint8)
    newline_ends = [
        np.flatnonzero(buffer[at : at + NEWLINE_SEARCH_BYTES] == ord("\n")) + (at + 1)
        for at in range(start, len(data), NEWLINE_SEARCH_BYTES)
    ]
    offsets = np.concatenate([np.array([start], np.int64), *newline_ends])
    if offsets[-1] != len(data):
        offsets = np.append(offsets, len(data))  # the last line has no newline
    return offsets


def _lines_of_text_file(path: Path) -> pa.Table:
    """Every line of a JSON Lines file, numbered from 1, as (line_number, raw_line,
    read_error). raw_line still ends with its "\n" or "\r\n" (the contract's query
    drops it): the lines are then a view of the decompressed bytes, never copied."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    offsets = _line_starts(data, start)
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    read_errors = pa.nulls(len(lines), pa.string())
    try:
        text = lines.cast(pa.large_string())  # checks the UTF-8, copies nothing
    except pa.ArrowInvalid:
        text, read_errors = _decode_line_by_line(lines)
    table = pa.table(
        {
            "line_number": pa.array(np.arange(1, len(lines) + 1, dtype=np.int64)),
            "raw_line": text,
            "read_error": read_errors,
        }
    )
    return pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS), table.schema)


def _decode_line_by_line(lines: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Decode a file that is not all UTF-8: a bad line is kept (undecodable bytes shown
    as U+FFFD) with a reason, so it is rejected instead of loaded with altered text."""
    texts, errors = [], []
    for raw in lines.to_pylist():
        raw = raw.removesuffix(b"\n")
        try:
            texts.append(raw.decode("utf-8"))
            errors.append(None)
        except UnicodeDecodeError as error:
            texts.append(raw.decode("utf-8", errors="replace"))
            errors.append(f"line is not valid UTF-8 (bad byte at position {error.start + 1})")
    return pa.array(texts, pa.large_string()), pa.array(errors, pa.string())


def _lines_of_parquet_file(connection: duckdb.DuckDBPyConnection, path: Path) -> pa.Table:
    # Parquet rows become JSON objects so that both formats pass the same contract checks.
    columns = connection.execute(
        "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]
    ).fetchall()
    fields = []
    for name, column_type, *_ in columns:
        quoted = '"' + name.replace('"', '""') + '"'
        if column_type == "TIMESTAMP WITH TIME ZONE":
            # A UTC-adjusted Parquet timestamp is an instant: write it as RFC 3339 in UTC
            # (DuckDB's own JSON rendering, "+00", is not RFC 3339). A naive TIMESTAMP has
            # no offset and is left as is, for the contract to reject.
            fields.append(f"{quoted} := strftime({quoted}, '%Y-%m-%dT%H:%M:%S.%fZ')")
        else:
            fields.append(quoted)
    record = ", ".join(fields)
    return connection.sql(
        f"SELECT file_row_number + 1 AS line_number, "
        f"CAST(to_json(struct_pack({record})) AS VARCHAR) AS raw_line, "
        "CAST(NULL AS VARCHAR) AS read_error "
        "FROM read_parquet(?, file_row_number = true) ORDER BY line_number",
        params=[str(path)],
    ).to_arrow_table()


def _read_lines(connection: duckdb.DuckDBPyConnection, path: Path) -> pa.Table:
    if path.name.endswith(".parquet"):
        return _lines_of_parquet_file(connection, path)
    return _lines_of_text_file(path)


def _describe_read_error(path: Path, error: Exception) -> str:
    if isinstance(error, (gzip.BadGzipFile, zlib.error, EOFError)):
        return f"not a readable gzip file ({error}); replace it with a complete .jsonl.gz"
    if isinstance(error, duckdb.Error):
        return f"not a readable Parquet file ({str(error).splitlines()[0]})"
    return f"could not be read ({type(error).__name__}: {error})"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_partition(settings: Settings, landing_date: date) -> PartitionReport:
    """Replace landing day `landing_date` in the raw tables with what its files hold now."""
    folder = landing_path(settings, landing_date)
    report = PartitionReport(landing_date=landing_date, landing_path=folder)
    files, skipped = _landing_files(folder) if folder.is_dir() else ([], [])
    # Folders of other gateways' records declared in sources.toml (ingest/sources/).
    source_days = sources.source_days(settings, landing_date)
    report.missing = not folder.is_dir() and not source_days
    report.skipped_files = [str(p) for p in skipped] + [
        str(p) for day in source_days for p in day.skipped
    ]
    now = datetime.now(timezone.utc)

    connection = connect(settings, wait_seconds=60)
    try:
        ensure_raw_schema(connection)
        file_rows = []
        # Each file's lines are checked straight from Arrow into landing_checked, which
        # keeps the typed records and only the rejected lines' text.
        checked_sql = contract.validated_lines_sql(
            "(SELECT ? AS source_file, line_number, raw_line, read_error FROM file_lines)"
        )
        connection.register("file_lines", LINES_SCHEMA.empty_table())
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE landing_checked AS {checked_sql} WITH NO DATA", [""]
        )
        connection.unregister("file_lines")
        for path in files:
            stat = path.stat()
            file_report = FileReport(path=str(path))
            report.files.append(file_report)
            try:
                lines = _read_lines(connection, path)
            except (OSError, EOFError, zlib.error, UnicodeError, duckdb.Error) as error:
                # An unreadable file is reported by name; the day's other files still load.
                file_report.error = _describe_read_error(path, error)
            else:
                connection.register("file_lines", lines)
                connection.execute(f"INSERT INTO landing_checked {checked_sql}", [str(path)])
                connection.unregister("file_lines")
                del lines  # frees the file's bytes before the next file is read
            file_rows.append(
                (
                    landing_date,
                    str(path),
                    stat.st_size,
                    datetime.fromtimestamp(stat.st_mtime, timezone.utc),
                    file_sha256(path),
                    file_report,
                )
            )
        for batch in sources.read_day(source_days):
            # Each batch's records are mapped onto the contract and checked in one query.
            for read in batch.files:
                file_report = FileReport(path=str(read.path), error=read.error)
                report.files.append(file_report)
                file_rows.append((landing_date, str(read.path), read.size_bytes,
                                  read.modified_at, read.sha256, file_report))
            if batch.records is not None:
                connection.register(sources.RECORDS_RELATION, batch.records)
                connection.execute(f"INSERT INTO landing_checked {batch.sql}")
                connection.unregister(sources.RECORDS_RELATION)

        per_file = dict(
            (row[0], (row[1], row[2]))
            for row in connection.execute(
                "SELECT source_file, count(*) FILTER (reason IS NULL), "
                "count(*) FILTER (reason IS NOT NULL) FROM landing_checked GROUP BY ALL"
            ).fetchall()
        )
        for file_report in report.files:
            loaded, rejected = per_file.get(file_report.path, (0, 0))
            file_report.rows_loaded, file_report.rows_rejected = loaded, rejected
            if file_report.error:
                file_report.rows_rejected = 1  # the whole file, kept as one rejected entry
        report.rows_loaded = sum(f.rows_loaded for f in report.files)
        report.rows_rejected = sum(f.rows_rejected for f in report.files)

        columns = ", ".join(contract.field_names())
        connection.execute("BEGIN TRANSACTION")
        for table in ("raw.request_logs", "raw.request_logs_rejected", "raw.ingested_files"):
            connection.execute(f"DELETE FROM {table} WHERE landing_date = ?", [landing_date])
        connection.execute(
            f"INSERT INTO raw.request_logs (landing_date, source_file, line_number, {columns}, "
            "ingested_at) "
            # landing_checked was filled file by file, line by line, and DuckDB keeps
            # insertion order, so the rows arrive in file and line order without a sort.
            f"SELECT ?, source_file, line_number, {columns}, ? FROM landing_checked "
            "WHERE reason IS NULL",
            [landing_date, now],
        )
        connection.execute(
            "INSERT INTO raw.request_logs_rejected "
            "SELECT ?, source_file, line_number, raw_line, reason, ? FROM landing_checked "
            "WHERE reason IS NOT NULL",
            [landing_date, now],
        )
        for landing, path, size, mtime, sha, file_report in file_rows:
            if file_report.error:
                connection.execute(
                    "INSERT INTO raw.request_logs_rejected VALUES (?, ?, NULL, NULL, ?, ?)",
                    [landing, path, f"unreadable file: {file_report.error}", now],
                )
        # One insert for all files: a source folder can hold a file per request.
        connection.register("day_files", pa.table({
            "landing_date": pa.array([row[0] for row in file_rows], pa.date32()),
            "path": pa.array([row[1] for row in file_rows], pa.string()),
            "size_bytes": pa.array([row[2] for row in file_rows], pa.int64()),
            "modified_at": pa.array([row[3] for row in file_rows], pa.timestamp("us", "UTC")),
            "sha256": pa.array([row[4] for row in file_rows], pa.string()),
            "rows_loaded": pa.array([row[5].rows_loaded for row in file_rows], pa.int64()),
            "rows_rejected": pa.array([row[5].rows_rejected for row in file_rows], pa.int64()),
            "error": pa.array([row[5].error for row in file_rows], pa.string()),
        }))
        connection.execute("INSERT INTO raw.ingested_files SELECT *, ? FROM day_files", [now])
        connection.unregister("day_files")
        # The facts and marts are now behind this day until a dbt build catches up.
        request_model_build(connection, [landing_date], "ingest")
        connection.execute("COMMIT")

        # Another delivery of a request carries its created_at, so the other days' copies
        # lie within the day's created_at span (a day of slack either side, as
        # fct_requests assumes). Bounds given as constants let DuckDB skip old row groups
        # by their min/max instead of reading every past request_id: the count stays flat
        # as history grows.
        earliest, latest = connection.execute(
            "SELECT min(created_at) - INTERVAL 1 DAY, max(created_at) + INTERVAL 1 DAY "
            "FROM raw.request_logs WHERE landing_date = ?",
            [landing_date],
        ).fetchone()
        report.duplicates_in_day, report.duplicates_across_days = connection.execute(
            """
            SELECT
                (SELECT count(*) - count(DISTINCT request_id)
                   FROM raw.request_logs WHERE landing_date = $day),
                -- The day's ids are the small side, so they are the ones hashed; the
                -- rest of the created_at window is only scanned.
                (SELECT count(DISTINCT request_id) FROM raw.request_logs
                  WHERE landing_date <> $day
                    AND created_at BETWEEN $earliest AND $latest
                    AND request_id IN (
                        SELECT request_id FROM raw.request_logs WHERE landing_date = $day))
            """,
            {"day": landing_date, "earliest": earliest, "latest": latest},
        ).fetchone()
        report.event_dates = [
            row[0]
            for row in connection.execute(
                "SELECT DISTINCT CAST(timezone('UTC', created_at) AS DATE) AS d "
                "FROM raw.request_logs WHERE landing_date = ? ORDER BY d",
                [landing_date],
            ).fetchall()
        ]
    finally:
        connection.close()
    return report
