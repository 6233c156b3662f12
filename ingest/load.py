"""Load one landing day of gateway logs into the raw tables, atomically.

`load_partition` reads every file of `landing/dt=YYYY-MM-DD/` (`.jsonl`, `.jsonl.gz`,
`.parquet`), and the day's folder of every source `landing/sources.toml` declares (other
gateways' records, mapped onto the contract by ingest/sources/), checks every record
against the contract, and replaces that day's rows in
`raw.request_logs`, `raw.request_logs_rejected` and `raw.ingested_files` in one
transaction: a re-run gives the same rows, and a crash half-way leaves the previous day.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from config.settings import Settings
from ingest import contract, lake, sources
from ingest.landing_files import (
    BATCH_BYTES,
    BATCH_ROWS,
    LINES_SCHEMA,
    end_to_end,
    file_sha256,
    lines_and_sha256,
)
from ingest.warehouse import connect, ensure_raw_schema, request_model_build

# The raw tables whose rows of a landing day a load replaces. The quality checks judge
# the new records again (quality/rules.py), so the day's quarantine goes too.
LANDING_DAY_TABLES = (
    "request_logs",
    "request_logs_rejected",
    "ingested_files",
    "quarantined_records",
)
SUPPORTED_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")
# A Parquet file of up to this size is read whole, once, for its footer and its hash: a
# day of thousands of small files paid for opening and reading each one twice.
WHOLE_READ_BYTES = 1 << 20
SKIPPED_REASON = "not loaded: only .jsonl, .jsonl.gz and .parquet files are read"


@dataclass
class FileReport:
    path: str
    rows_loaded: int = 0
    rows_rejected: int = 0
    error: str | None = None
    # Lines (JSON Lines) or rows (Parquet) the file holds, counted from its bytes or its
    # Parquet footer, apart from the parsing: rows_loaded + rows_rejected must equal it.
    # For a gzip file cut short, the lines before the cut (they are checked and loaded).
    lines_read: int = 0
    cut_short: bool = False  # the file ended early; the lines before the cut were read


@dataclass(frozen=True)
class LandingAnomaly:
    """An entry of the landing directory that was not read, and why (raw.landing_anomalies)."""

    landing_date: date | None  # None: an entry of the landing directory itself
    path: str
    kind: str
    size_bytes: int | None
    reason: str

    def describe(self) -> str:
        size = f", {self.size_bytes:,} bytes" if self.size_bytes is not None else ""
        return f"{self.kind} {self.path}{size}: {self.reason}"


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
    # Files of a type their folder's format does not have, links, folders and other
    # entries of the day's folders that were not read, and entries of the landing
    # directory that are not a dt=YYYY-MM-DD folder of a real day.
    anomalies: list[LandingAnomaly] = field(default_factory=list)

    @property
    def unreadable_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error]

    @property
    def skipped_files(self) -> list[str]:
        return [a.path for a in self.anomalies if a.kind == UNSUPPORTED_KIND]

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
        for anomaly in self.anomalies:
            if anomaly.kind == UNSUPPORTED_KIND:
                text += f"\n  skipped {anomaly.path}: {anomaly.reason}"
            else:
                text += f"\n  not read: {anomaly.describe()}"
        return text


def landing_path(settings: Settings, landing_date: date) -> Path:
    return settings.landing_dir / f"dt={landing_date.isoformat()}"


UNSUPPORTED_KIND = "unsupported file"
# A dt= folder name as the loader writes and reads it. date.fromisoformat alone would
# also take "20260301", which then names no folder the loader looks in.
_LANDING_FOLDER = re.compile(r"dt=(\d{4}-\d{2}-\d{2})")


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _link_anomaly(
    settings: Settings, path: Path, landing_date: date | None
) -> LandingAnomaly | None:
    """Why a symbolic link is not followed, or None when it may be.

    A link is followed only when it resolves to an entry inside the landing directory:
    a link elsewhere (/etc/passwd, another user's files) would copy bytes the gateway
    never wrote into tables every SQL reader sees."""
    root = settings.landing_dir.resolve()
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return LandingAnomaly(
            landing_date,
            str(path),
            "broken link",
            None,
            "a symbolic link to nothing (its target is missing, or it loops); not read",
        )
    if not target.is_relative_to(root):
        return LandingAnomaly(
            landing_date,
            str(path),
            "link outside the landing directory",
            _size_or_none(path),
            "a symbolic link that leaves the landing directory; not followed, nothing read",
        )
    return None


def _landing_files(
    settings: Settings, folder: Path, landing_date: date
) -> tuple[list[Path], list[LandingAnomaly]]:
    """The files to load, and every entry that is not read (files of a format the loader
    does not read, links that leave the landing directory or lead nowhere, sub-folders,
    sockets), each with its reason.

    Names starting with "." or "_" (editor backups, `_SUCCESS` markers) are not logs.
    """
    supported, anomalies = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")):
            continue
        if path.is_symlink():
            anomaly = _link_anomaly(settings, path, landing_date)
            if anomaly:
                anomalies.append(anomaly)
                continue
        if not path.is_file():
            anomalies.append(_not_a_file(path, landing_date))
        elif path.name.endswith(SUPPORTED_SUFFIXES):
            supported.append(path)
        else:
            anomalies.append(
                LandingAnomaly(
                    landing_date, str(path), UNSUPPORTED_KIND, _size_or_none(path), SKIPPED_REASON
                )
            )
    return supported, anomalies


def landing_days_on_disk(settings: Settings) -> tuple[list[date], list[LandingAnomaly]]:
    """The landing days with a dt=YYYY-MM-DD folder, and the landing directory's entries
    that are not one (not a real date, another spelling of a date, a file, a link that
    leaves the directory)."""
    root = settings.landing_dir
    if not root.is_dir():
        return [], []
    # sources.toml and the source folders it declares belong here too (ingest/sources/).
    declared = {sources.config.SOURCES_FILE} | {
        folder.root.name for folder in sources.source_folders(settings)
    }
    days, anomalies = [], []
    for path in sorted(root.iterdir()):
        if path.name.startswith((".", "_")) or path.name in declared:
            continue
        match = _LANDING_FOLDER.fullmatch(path.name)
        day = None
        if match:
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                pass
        if day is None:
            anomalies.append(
                LandingAnomaly(
                    None,
                    str(path),
                    "not a landing day",
                    None,
                    "not a dt=YYYY-MM-DD folder of a real date (e.g. dt=2026-03-01); not read",
                )
            )
            continue
        if path.is_symlink():
            anomaly = _link_anomaly(settings, path, None)
            if anomaly:
                anomalies.append(anomaly)
                continue
        if not path.is_dir():
            anomalies.append(
                LandingAnomaly(
                    None,
                    str(path),
                    "not a folder",
                    _size_or_none(path),
                    "a landing day must be a folder; not read",
                )
            )
            continue
        days.append(day)
    return days, anomalies


def own_format_files(settings: Settings, landing_date: date) -> list[Path]:
    """The files of the day's dt= folder that load_partition reads (`_landing_files`: of
    a supported type, not named "." or "_" first, no link out of the directory)."""
    folder = landing_path(settings, landing_date)
    return _landing_files(settings, folder, landing_date)[0] if folder.is_dir() else []


def landing_day_has_files(settings: Settings, landing_date: date) -> bool:
    """Whether the landing day has a file to load: in its dt= folder of our own format,
    or in the day's folder of a source sources.toml declares."""
    if own_format_files(settings, landing_date):
        return True
    return any(day.files for day in sources.source_days(settings, landing_date))


def _not_a_file(path: Path, landing_date: date | None) -> LandingAnomaly:
    """Why an entry of a day folder that is not a file is not read."""
    if path.is_dir():
        return LandingAnomaly(
            landing_date,
            str(path),
            "folder",
            None,
            "a folder inside a landing day; files must lie directly in dt=YYYY-MM-DD",
        )
    return LandingAnomaly(
        landing_date, str(path), "not a regular file", None, "a socket, pipe or device; not read"
    )


def _inside_landing(
    settings: Settings, days: list[sources.SourceDay], landing_date: date
) -> tuple[list[sources.SourceDay], list[LandingAnomaly]]:
    """The source days with only the files that lie inside the landing directory, and an
    anomaly for each link that leaves it (or leads nowhere), as for our own day folders.
    A source folder or day folder that is itself a link leaving the directory is not
    read at all. (One check per folder, and per file only for links: a day can hold a
    file per request.)"""
    root = settings.landing_dir.resolve()
    kept, anomalies = [], []
    for day in days:
        folder = day.folder.day_folder(landing_date)
        if not folder.resolve().is_relative_to(root):
            anomalies.append(
                LandingAnomaly(
                    landing_date,
                    str(folder),
                    "link outside the landing directory",
                    None,
                    "a source folder that leads out of the landing directory; not followed, "
                    "nothing read",
                )
            )
            continue
        files = []
        for path in day.files:
            anomaly = _link_anomaly(settings, path, landing_date) if path.is_symlink() else None
            if anomaly:
                anomalies.append(anomaly)
            else:
                files.append(path)
        # What is not a file is not read, as in our own day folders: a link leaving the
        # directory says so, anything else says what it is.
        for path in day.not_files:
            anomaly = _link_anomaly(settings, path, landing_date) if path.is_symlink() else None
            anomalies.append(anomaly or _not_a_file(path, landing_date))
        kept.append(sources.SourceDay(day.folder, files, day.skipped, day.not_files))
    return kept, anomalies


def _parquet_columns(connection: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column of a Parquet file."""
    described = connection.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)])
    return [(name, column_type) for name, column_type, *_ in described.fetchall()]


def _lines_of_parquet_files(
    connection: duckdb.DuckDBPyConnection, paths: list, columns: list[tuple[str, str]]
) -> dict[str, pa.Table]:
    """The rows of Parquet files that all have `columns`, as numbered lines of JSON, by
    file name; read by one query, as a day can hold thousands of small files."""
    # Parquet rows become JSON objects so that both formats pass the same contract checks.
    fields = []
    for name, column_type in columns:
        quoted = '"' + name.replace('"', '""') + '"'
        if column_type == "TIMESTAMP WITH TIME ZONE":
            # A UTC-adjusted Parquet timestamp is an instant: write it as RFC 3339 in UTC
            # (DuckDB's own JSON rendering, "+00", is not RFC 3339). A naive TIMESTAMP has
            # no offset and is left as is, for the contract to reject.
            fields.append(f"{quoted} := strftime({quoted}, '%Y-%m-%dT%H:%M:%S.%fZ')")
        else:
            fields.append(quoted)
    record = ", ".join(fields)
    # The file name under a column name no file's own column can take (a longer one).
    file_column = "source_file" + "_" * max((len(name) for name, _ in columns), default=0)
    table = connection.sql(
        f"SELECT {file_column}, file_row_number + 1 AS line_number, "
        f"CAST(to_json(struct_pack({record})) AS VARCHAR) AS raw_line, "
        "CAST(NULL AS VARCHAR) AS read_error "
        f"FROM read_parquet(?, filename = '{file_column}', file_row_number = true) "
        f"ORDER BY {file_column}, line_number",
        params=[[str(path) for path in paths]],
    ).to_arrow_table()
    names = table.column(file_column).to_numpy(zero_copy_only=False)
    lines = table.drop_columns([file_column]).cast(LINES_SCHEMA)
    starts = np.flatnonzero(np.r_[True, names[1:] != names[:-1]]) if len(names) else []
    ends = [*starts[1:], len(names)]
    read = {str(names[start]): lines.slice(start, end - start) for start, end in zip(starts, ends)}
    # A file without rows has no line to be named by.
    empty = LINES_SCHEMA.empty_table()
    return {str(path): read.get(str(path), empty) for path in paths}


class _ParquetGroups:
    """Reads the day's Parquet files a group at a time: consecutive files of the same
    columns, together at most an eighth of BATCH_BYTES (Parquet holds about that share
    of the bytes its rows take as JSON text), by one query when the first of them is
    read (a query a file cost 5 ms). A file that cannot be read here, or a group in
    which one cannot, is read alone, and its error names it.

    Each footer is read once here, by pyarrow (DuckDB's DESCRIBE took 2.5 ms a file),
    for the file's row count and its columns, compared as the Parquet schema the footer
    states (what DuckDB reads by; turning it into an Arrow schema cost more than reading
    it). A file of up to WHOLE_READ_BYTES is read whole, once, for its footer and its
    hash; a larger one has its footer read and is hashed in pieces."""

    def __init__(self, paths: list[Path]) -> None:
        groups: list[tuple[pq.ParquetSchema, list[str], int]] = []
        self._rows: dict[str, int] = {}
        self._sha256: dict[str, str] = {}
        for path in paths:
            if not path.name.endswith(".parquet"):
                continue
            try:
                size = path.stat().st_size
                if size <= WHOLE_READ_BYTES:
                    data = path.read_bytes()
                    footer = pq.read_metadata(pa.BufferReader(data))
                    self._sha256[str(path)] = hashlib.sha256(data).hexdigest()
                else:
                    footer = pq.read_metadata(path)
            except (OSError, pa.ArrowException):
                continue
            self._rows[str(path)] = footer.num_rows
            schema, last = footer.schema, groups[-1] if groups else None
            if last and last[0].equals(schema) and last[2] + size <= BATCH_BYTES // 8:
                last[1].append(str(path))
                groups[-1] = (schema, last[1], last[2] + size)
            else:
                groups.append((schema, [str(path)], size))
        self._group_of = {path: group for _, group, _ in groups for path in group}
        self._read: dict[str, pa.Table] = {}

    def lines(self, connection: duckdb.DuckDBPyConnection, path: Path) -> pa.Table:
        group = self._group_of.pop(str(path), [])
        if len(group) > 1:
            for other in group:
                self._group_of.pop(other, None)
            try:
                columns = _parquet_columns(connection, Path(group[0]))
                self._read.update(_lines_of_parquet_files(connection, group, columns))
            except (duckdb.Error, pa.ArrowException):
                pass
        lines = self._read.pop(str(path), None)
        if lines is None:
            lines = _lines_of_parquet_files(connection, [path], _parquet_columns(connection, path))
            lines = lines[str(path)]
        return lines

    def row_count(self, path: Path) -> int:
        """The row count the file's Parquet footer states, read by pyarrow rather than
        DuckDB (the footer read to group the file, when it was)."""
        rows = self._rows.pop(str(path), None)
        return pq.ParquetFile(path).metadata.num_rows if rows is None else rows

    def sha256(self, path: Path) -> str:
        """The file's SHA-256, of the bytes its footer was read from when it was read
        whole."""
        return self._sha256.pop(str(path), None) or file_sha256(path)


def _read_lines(
    connection: duckdb.DuckDBPyConnection, path: Path, parquet: _ParquetGroups
) -> tuple[pa.Table, int, str | None, str]:
    """The file's lines, how many it holds (counted apart from reading them), why it was
    cut short, if it was, and its SHA-256 (of a JSON Lines file, from the bytes read for
    its lines rather than a second read)."""
    if path.name.endswith(".parquet"):
        lines = parquet.lines(connection, path)
        return lines, parquet.row_count(path), None, parquet.sha256(path)
    return lines_and_sha256(path)


def _describe_read_error(path: Path, error: Exception) -> str:
    """One printable line: a reader's message may quote the file's own bytes (DuckDB's for
    a corrupt Parquet page, "don't know what type: \\x0f"), which must not reach a terminal
    or a log as control characters."""
    text = _read_error_text(error)
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _read_error_text(error: Exception) -> str:
    if isinstance(error, (gzip.BadGzipFile, zlib.error, EOFError)):
        return f"not a readable gzip file ({error}); replace it with a complete .jsonl.gz"
    if isinstance(error, (duckdb.Error, pa.ArrowException)):
        return f"not a readable Parquet file ({str(error).splitlines()[0]})"
    if isinstance(error, PermissionError):
        return "not readable by this process (permission denied); nothing was read"
    return f"could not be read ({type(error).__name__}: {error})"


def _last_value_wins(
    connection: duckdb.DuckDBPyConnection, lines: pa.Table, first_rows: dict[str, int]
) -> pa.Table:
    """`lines` (registered as file_lines) with every line that repeats a contract field
    rewritten so the last value counts, as common JSON readers do; DuckDB, which the
    contract's SQL uses, would take the first. Such lines are rare, so they are found
    with one pattern scan and rewritten in Python. A file's line n is row
    `first_rows[file] + n - 1` of `lines`."""
    repeated = [
        first_rows[source_file] + line_number - 1
        for source_file, line_number in connection.execute(
            "SELECT source_file, line_number FROM file_lines WHERE regexp_matches(raw_line, ?)",
            [contract.repeated_field_pattern()],
        ).fetchall()
    ]
    if not repeated:
        return lines
    column = lines.column("raw_line").to_pylist()
    for row in repeated:
        column[row] = contract.last_value_wins(column[row])
    return lines.set_column(
        lines.schema.get_field_index("raw_line"), "raw_line", pa.array(column, pa.large_string())
    )


# The relation the contract's query reads the lines of a batch of files from.
_CHECKED_LINES = "(SELECT source_file, line_number, raw_line, read_error FROM file_lines)"


@dataclass
class _LinesBatch:
    """Lines of files read and not yet checked: the contract's query is checked over many
    files at once, since each run is a query of some 50 KB to plan (about 0.1 s, as long
    for ten lines as for a million), and a day of a gateway that flushes often is
    thousands of files of a few lines."""

    paths: list[str] = field(default_factory=list)
    tables: list[pa.Table] = field(default_factory=list)
    nbytes: int = 0

    def add(self, path: Path, lines: pa.Table) -> None:
        self.paths.append(str(path))
        self.tables.append(lines)
        self.nbytes += lines.nbytes

    def check(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Check every line of the batch with one run of the contract's query into
        landing_checked, in file and line order, and empty the batch."""
        if not self.paths:
            return
        counts = [table.num_rows for table in self.tables]
        first_rows = dict(zip(self.paths, np.cumsum([0, *counts[:-1]]).tolist(), strict=True))
        # Each line's file name as one dictionary entry per file: no string per line.
        names = pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(np.arange(len(self.paths), dtype=np.int32), counts)),
            pa.array(self.paths, pa.string()),
        )
        lines = end_to_end(self.tables, BATCH_ROWS).append_column(
            "source_file", pa.chunked_array([names])
        )
        self.paths, self.tables, self.nbytes = [], [], 0
        connection.register("file_lines", lines)
        lines = _last_value_wins(connection, lines, first_rows)
        connection.register("file_lines", lines)
        connection.execute(
            f"INSERT INTO landing_checked {contract.validated_lines_sql(_CHECKED_LINES)}"
        )
        connection.unregister("file_lines")


def _seed_from_lake(
    connection: duckdb.DuckDBPyConnection, settings: Settings, landing_date: date
) -> None:
    """On Spark, give the in-memory raw tables what the lake holds that this load reads
    before it replaces it: the day's deliveries (to find the ones it replaces), its
    replaced deliveries no build has cleared yet, and the landing anomalies (one table
    for all days). The load's own SQL then runs as on the warehouse file."""
    lake_connection = lake.connect_lake(settings)
    try:
        for table, where in (
            ("request_logs", "landing_date = ?"),
            ("replaced_deliveries", "landing_date = ?"),
            ("landing_anomalies", "true"),
        ):
            rows = lake_connection.sql(
                f"SELECT * FROM raw.{table} WHERE {where}",
                params=[landing_date] if "?" in where else None,
            ).to_arrow_table()
            connection.register("lake_rows", rows)
            connection.execute(f"INSERT INTO raw.{table} SELECT * FROM lake_rows")
            connection.unregister("lake_rows")
    finally:
        lake_connection.close()


def load_partition(settings: Settings, landing_date: date) -> PartitionReport:
    """Replace landing day `landing_date` in the raw tables with what its files hold now."""
    folder = landing_path(settings, landing_date)
    report = PartitionReport(landing_date=landing_date, landing_path=folder)
    refused = _link_anomaly(settings, folder, landing_date) if folder.is_symlink() else None
    if refused:
        files, anomalies = [], [refused]
    elif folder.is_dir():
        files, anomalies = _landing_files(settings, folder, landing_date)
    else:
        files, anomalies = [], []
    report.missing = not folder.is_dir() and not refused
    # Folders of other gateways' records declared in sources.toml (ingest/sources/).
    source_days, link_anomalies = _inside_landing(
        settings, sources.source_days(settings, landing_date), landing_date
    )
    # A source folder's files of another type are skipped and recorded like ours, with
    # the types that folder's format reads.
    skipped = [
        LandingAnomaly(landing_date, str(p), UNSUPPORTED_KIND, _size_or_none(p), day.skipped_reason)
        for day in source_days
        for p in day.skipped
    ]
    anomalies = anomalies + link_anomalies + skipped
    report.missing = report.missing and not source_days
    # The landing directory's own odd entries are listed by every load, so a run's
    # output names them whichever day it loads.
    _, directory_anomalies = landing_days_on_disk(settings)
    report.anomalies = anomalies + directory_anomalies
    now = datetime.now(UTC)

    # On Spark the day is checked in an in-memory DuckDB, whose raw tables then hold just
    # this day, and written to the lake as Parquet (ingest/lake.py).
    connection = (
        lake.scratch_connection(settings)
        if settings.on_spark
        else connect(settings, wait_seconds=settings.write_wait_seconds)
    )
    try:
        ensure_raw_schema(connection)
        if settings.on_spark:
            _seed_from_lake(connection, settings, landing_date)
        file_rows = []
        # The files' lines are checked straight from Arrow into landing_checked, which
        # keeps the typed records and only the rejected lines' text, a batch of files
        # (up to BATCH_BYTES of lines) at a time.
        connection.register(
            "file_lines",
            LINES_SCHEMA.empty_table().append_column("source_file", pa.array([], pa.string())),
        )
        connection.execute(
            "CREATE OR REPLACE TEMP TABLE landing_checked AS "
            f"{contract.validated_lines_sql(_CHECKED_LINES)} WITH NO DATA"
        )
        connection.unregister("file_lines")
        batch = _LinesBatch()
        parquet = _ParquetGroups(files)
        for path in files:
            stat = path.stat()
            file_report = FileReport(path=str(path))
            report.files.append(file_report)
            sha = None
            try:
                lines, file_report.lines_read, cut, sha = _read_lines(connection, path, parquet)
            except (
                OSError,
                EOFError,
                zlib.error,
                UnicodeError,
                duckdb.Error,
                pa.ArrowException,
            ) as error:
                # An unreadable file is reported by name; the day's other files still load.
                # None of its bytes go into a table: only its name, size and the reason.
                file_report.error = _describe_read_error(path, error)
            else:
                if cut:
                    file_report.error, file_report.cut_short = cut, True
                # A batch holds at most BATCH_BYTES of lines, or one larger file alone.
                if batch.nbytes + lines.nbytes > BATCH_BYTES:
                    batch.check(connection)
                batch.add(path, lines)
                del lines  # the batch holds the file's lines until they are checked
            if sha is None:  # the read failed; a file that is not gzip still has a hash
                try:
                    sha = file_sha256(path)
                except OSError:
                    sha = ""  # unreadable: its error says so
            file_rows.append(
                (
                    landing_date,
                    str(path),
                    stat.st_size,
                    datetime.fromtimestamp(stat.st_mtime, UTC),
                    sha,
                    file_report,
                )
            )
        batch.check(connection)
        for source_batch in sources.read_day(source_days):
            # Each batch's records are mapped onto the contract and checked in one query.
            for read in source_batch.files:
                # JSON Lines source files are counted apart from parsing like ours; a
                # one-document or CSV file has NULL, which the reconciliation reads as
                # "loaded + rejected".
                file_report = FileReport(
                    path=str(read.path),
                    error=read.error,
                    lines_read=read.lines_read,
                    cut_short=read.cut_short,
                )
                report.files.append(file_report)
                file_rows.append(
                    (
                        landing_date,
                        str(read.path),
                        read.size_bytes,
                        read.modified_at,
                        read.sha256,
                        file_report,
                    )
                )
            sources.check_batch(connection, source_batch, "landing_checked")

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
            if file_report.error and not file_report.cut_short:
                file_report.rows_rejected = 1  # the whole file, kept as one rejected entry
        report.rows_loaded = sum(f.rows_loaded for f in report.files)
        report.rows_rejected = sum(f.rows_rejected for f in report.files)

        columns = ", ".join(contract.field_names())
        connection.execute("BEGIN TRANSACTION")
        # Deliveries the day held before and no longer holds as they were (a file
        # removed, a record withdrawn or moved to another created_at): raw forgets them
        # below, but the event days they were on must be rebuilt, so the next build
        # reads them here (int_event_dates_touched_by_run) and clears them.
        connection.execute(
            """
            INSERT INTO raw.replaced_deliveries
            SELECT $day, request_id, created_at, $now FROM (
                SELECT request_id, created_at FROM raw.request_logs WHERE landing_date = $day
                EXCEPT
                SELECT request_id, created_at FROM landing_checked WHERE reason IS NULL
            )
            """,
            {"day": landing_date, "now": now},
        )
        for table in LANDING_DAY_TABLES:
            connection.execute(f"DELETE FROM raw.{table} WHERE landing_date = ?", [landing_date])
        connection.execute(
            "DELETE FROM raw.landing_anomalies WHERE landing_date = ? OR landing_date IS NULL",
            [landing_date],
        )
        for a in report.anomalies:
            connection.execute(
                "INSERT INTO raw.landing_anomalies VALUES (?, ?, ?, ?, ?, ?)",
                [a.landing_date, a.path, a.kind, a.size_bytes, a.reason, now],
            )
        connection.execute(
            f"INSERT INTO raw.request_logs (landing_date, source_file, line_number, {columns}, "
            "ingested_at) "
            # landing_checked was filled in file and line order, a batch of files at a
            # time, and DuckDB keeps insertion order, so the rows arrive in that order
            # without a sort.
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
            if file_report.error and not file_report.cut_short:
                connection.execute(
                    "INSERT INTO raw.request_logs_rejected VALUES (?, ?, NULL, NULL, ?, ?)",
                    [landing, path, f"unreadable file: {file_report.error}", now],
                )
        # One insert for all files: a source folder can hold a file per request.
        connection.register(
            "day_files",
            pa.table(
                {
                    "landing_date": pa.array([row[0] for row in file_rows], pa.date32()),
                    "path": pa.array([row[1] for row in file_rows], pa.string()),
                    "size_bytes": pa.array([row[2] for row in file_rows], pa.int64()),
                    "modified_at": pa.array(
                        [row[3] for row in file_rows], pa.timestamp("us", "UTC")
                    ),
                    "sha256": pa.array([row[4] for row in file_rows], pa.string()),
                    "rows_loaded": pa.array([row[5].rows_loaded for row in file_rows], pa.int64()),
                    "rows_rejected": pa.array(
                        [row[5].rows_rejected for row in file_rows], pa.int64()
                    ),
                    "error": pa.array([row[5].error for row in file_rows], pa.string()),
                    "lines_read": pa.array([row[5].lines_read for row in file_rows], pa.int64()),
                }
            ),
        )
        connection.execute(
            "INSERT INTO raw.ingested_files (landing_date, path, size_bytes, modified_at, sha256, "
            "rows_loaded, rows_rejected, error, ingested_at, lines_read) SELECT landing_date, path, "
            "size_bytes, modified_at, sha256, rows_loaded, rows_rejected, error, ?, lines_read "
            "FROM day_files",
            [now],
        )
        connection.unregister("day_files")
        # The facts and marts are now behind this day until a dbt build catches up.
        request_model_build(connection, [landing_date], "ingest")
        connection.execute("COMMIT")
        if settings.on_spark:
            # Files, unlike DuckDB, give no transaction over the four tables. The queue
            # entry goes last so a queued day always has its rows written; a crash before
            # it leaves the day written but not queued by ingest, and the dbt step queues
            # its whole window anyway (orchestration/dbt_assets.py).
            for table in (*LANDING_DAY_TABLES, "replaced_deliveries", "pending_model_builds"):
                lake.replace_day(
                    connection,
                    settings,
                    table,
                    landing_date,
                    f"SELECT * EXCLUDE (landing_date) FROM raw.{table} WHERE landing_date = ?",
                    [landing_date],
                )
            lake.replace_table(
                connection, settings, "landing_anomalies", "SELECT * FROM raw.landing_anomalies"
            )
            connection.close()
            connection = lake.connect_lake(settings)

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
