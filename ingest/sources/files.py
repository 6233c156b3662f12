"""Reading a source folder's files into Arrow batches of raw records.

Three shapes, by file name, never by content:

- `.jsonl`, `.jsonl.gz`: JSON Lines, read exactly as our own format's files are (line
  numbers, a byte-order mark, bad UTF-8 kept with a reason);
- `.json`: one JSON document per file, what LiteLLM's bucket loggers write (one call per
  object) and what an API response saved to a file holds; many small files are read into
  one batch, so that a day of a million one-record files is mapped in a few queries;
- `.csv`, `.csv.gz`: a CSV export with a header row; every value is kept as text and an
  empty cell as null, one column per cell (`cell_1`, ...), the header beside them: the
  mapping reads the cells it needs as they are, and writes a row out as a JSON object of
  its cells only for a row it quarantines; consecutive small files of one header line
  are parsed in one go (csv_tables.py), giving what each gives parsed alone.

Each batch comes with what the loader records per file (size, modification time,
SHA-256, or why the file could not be read).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from ingest.landing_files import (
    BATCH_BYTES,
    CutShort,
    end_to_end,
    file_sha256,
    gunzip,
    lines_and_sha256,
)
from ingest.sources import csv_tables

# Bytes of records per Arrow record batch handed to DuckDB, which scans record batches
# in parallel: a LiteLLM payload is ~13 KB, so a batch of our format's BATCH_ROWS lines
# would put a whole day's file in one batch and parse it on one core.
SCAN_BYTES = 16 << 20

RECORDS_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line_number", pa.int64()),
        ("record", pa.large_string()),
        ("read_error", pa.string()),
    ]
)


@dataclass
class FileRead:
    path: Path
    size_bytes: int
    modified_at: datetime
    sha256: str
    error: str | None = None  # why the file could not be read
    # Lines the file holds, counted from its bytes apart from parsing (JSON Lines files
    # only; None where the file is one document or a CSV table).
    lines_read: int | None = None
    cut_short: bool = False  # a gzip file cut short: the lines before the cut are read


def _state(path: Path, data: bytes | None = None) -> FileRead:
    stat = path.stat()
    digest = hashlib.sha256(data).hexdigest() if data is not None else file_sha256(path)
    return FileRead(path, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC), digest)


def _shape(path: Path) -> str:
    name = path.name
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".json"):
        return "documents"
    return "lines"


@dataclass
class RecordsRead:
    """Records of some files of one folder: (source_file, line_number, record, read_error)
    for JSON (RECORDS_SCHEMA), or for a CSV table (source_file, line_number, read_error,
    cell_1, ...) with the header naming the cells; None when no file could be read."""

    files: list[FileRead]
    records: pa.Table | None
    shape: str  # "lines", "documents" or "csv"
    csv_header: tuple[str, ...] | None = None


def read_batches(paths: list[Path]) -> Iterator[RecordsRead]:
    """The records of the given files of one folder, in name order, in batches of at most
    BATCH_BYTES of records (or one larger file): each batch is one mapping query to plan
    (ingest/landing_files.py), so a day of one-call files, or of JSON Lines or CSV files
    of a few records each, takes few batches. JSON Lines files go together, CSV files
    with the same header go together, and the .json documents come last."""
    documents = [path for path in paths if _shape(path) == "documents"]
    batch: list[RecordsRead] = []
    layout, size = None, 0
    for read in _tables([path for path in paths if _shape(path) != "documents"]):
        nbytes = read.records.nbytes if read.records is not None else 0
        other = _layout(read)
        # A file that could not be read has no layout, and goes with any batch.
        differs = None not in (layout, other) and other != layout
        if batch and (size + nbytes > BATCH_BYTES or differs):
            yield _joined(batch)
            batch, layout, size = [], None, 0
        batch.append(read)
        layout, size = layout or other, size + nbytes
    if batch:
        yield _joined(batch)
    batch_paths, size = [], 0
    for path in documents:
        batch_paths.append(path)
        size += path.stat().st_size
        if size >= BATCH_BYTES:
            yield _read_documents(batch_paths)
            batch_paths, size = [], 0
    if batch_paths:
        yield _read_documents(batch_paths)


def _layout(read: RecordsRead) -> tuple | None:
    """What must be equal for two files' records to be mapped by one query: their shape,
    a CSV table's header, and the columns (None for a file that could not be read, whose
    name alone goes with any batch)."""
    if read.records is None:
        return None
    return (read.shape, read.csv_header, read.records.schema)


def _joined(batch: list[RecordsRead]) -> RecordsRead:
    """The batch's files as one RecordsRead; their records laid end to end, in order."""
    readable = [r for r in batch if r.records is not None]
    files = [state for r in batch for state in r.files]
    if not readable:
        return RecordsRead(files, None, batch[0].shape)
    tables = [r.records for r in readable]
    rows, nbytes = sum(t.num_rows for t in tables), sum(t.nbytes for t in tables)
    batch_rows = max(1, int(rows * SCAN_BYTES / nbytes)) if nbytes else 1
    records = end_to_end(tables, batch_rows)
    return RecordsRead(files, records, readable[0].shape, readable[0].csv_header)


def _in_scan_batches(table: pa.Table) -> pa.Table:
    """The table cut into record batches of about SCAN_BYTES of records each."""
    if table.num_rows == 0 or table.nbytes <= SCAN_BYTES:
        return table
    rows = max(1, int(table.num_rows * SCAN_BYTES / table.nbytes))
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows), table.schema)


def _records(path: Path, line_numbers, texts: pa.Array, errors: pa.Array) -> pa.Table:
    return _in_scan_batches(
        pa.table(
            [
                pa.array([str(path)] * len(texts), pa.string()),
                pa.array(line_numbers, pa.int64()),
                texts.cast(pa.large_string()),
                errors,
            ],
            schema=RECORDS_SCHEMA,
        )
    )


def _unreadable(path: Path, error: Exception) -> FileRead:
    state = _state(path)
    if isinstance(error, (gzip.BadGzipFile, zlib.error, EOFError)):
        state.error = f"not a readable gzip file ({error}); replace it with a complete one"
    elif isinstance(error, pa.ArrowInvalid):
        state.error = f"not a readable CSV file ({str(error).splitlines()[0]})"
    else:
        state.error = f"could not be read ({type(error).__name__}: {error})"
    return state


def _read_lines(path: Path) -> RecordsRead:
    try:
        stat = path.stat()
        lines, lines_read, cut, sha256 = lines_and_sha256(path)
    except (OSError, EOFError, zlib.error, UnicodeError) as error:
        return RecordsRead([_unreadable(path, error)], None, "lines")
    table = _records(
        path,
        lines["line_number"],
        lines["raw_line"].combine_chunks(),
        lines["read_error"].combine_chunks(),
    )
    # The hash is of the bytes just read, not of a second read of the file.
    state = FileRead(path, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC), sha256)
    state.lines_read = lines_read
    state.error, state.cut_short = cut, cut is not None
    return RecordsRead([state], table, "lines")


def _decode(data: bytes) -> tuple[str, str | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        return (
            data.decode("utf-8", errors="replace"),
            f"file is not valid UTF-8 (bad byte at position {error.start + 1})",
        )


def _read_documents(paths: list[Path]) -> RecordsRead:
    """One record per file. The files' bytes are laid end to end in one Arrow buffer and
    checked as UTF-8 in one go (a Python string per file cost twice the reading); only a
    batch holding a file that is not UTF-8 is decoded file by file, to say where."""
    reads, names, contents = [], [], []
    for path in paths:
        try:
            stat = path.stat()
            data = path.read_bytes()
        except OSError as error:
            reads.append(_unreadable(path, error))
            continue
        reads.append(
            FileRead(
                path,
                stat.st_size,
                datetime.fromtimestamp(stat.st_mtime, UTC),
                hashlib.sha256(data).hexdigest(),
            )
        )
        names.append(str(path))
        # A byte-order mark is not part of the document.
        contents.append(data[3:] if data.startswith(b"\xef\xbb\xbf") else data)
    if not names:
        return RecordsRead(reads, None, "documents")
    offsets = np.zeros(len(contents) + 1, np.int64)
    np.cumsum([len(c) for c in contents], out=offsets[1:])
    documents = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        len(contents),
        [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(contents))],
    )
    try:
        texts, errors = documents.cast(pa.large_string()), pa.nulls(len(names), pa.string())
    except pa.ArrowInvalid:
        decoded = [_decode(c) for c in contents]
        texts = pa.array([text for text, _ in decoded], pa.large_string())
        errors = pa.array([error for _, error in decoded], pa.string())
    table = pa.table(
        [pa.array(names, pa.string()), pa.array(np.ones(len(names), np.int64)), texts, errors],
        schema=RECORDS_SCHEMA,
    )
    return RecordsRead(reads, _in_scan_batches(table), "documents")


def _csv_bytes(path: Path) -> tuple[bytes, bytes]:
    """A CSV file's bytes as read (hashed) and its text; a .csv.gz decompressed here,
    member by member, so that a byte-order mark at the start of any member is dropped,
    as for JSON Lines (pyarrow would keep it in the first cell of that member's first
    row)."""
    data = path.read_bytes()
    if not path.name.endswith(".gz"):
        return data, data
    try:
        return data, gunzip(data)
    except CutShort as short:
        raise EOFError(str(short)) from None


def _cells(names: list[str], rows: list[int], table: pa.Table) -> pa.Table:
    """The CSV rows of the named files (`rows` of each, laid end to end in `table`) as
    (source_file, line_number, read_error, cell_1, ...). Cells by position: a header may
    repeat a name or differ from another only in case, which DuckDB's column names would
    not keep apart."""
    counts = np.array(rows, np.int64)
    firsts = np.repeat(np.cumsum(counts) - counts, counts)
    files = pa.array(names, pa.string()).take(pa.array(np.repeat(np.arange(len(names)), counts)))
    cells = pa.table(
        {
            "source_file": files,
            "line_number": pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64) - firsts),
            "read_error": pa.nulls(table.num_rows, pa.string()),
            **{f"cell_{i}": column for i, column in enumerate(table.columns, start=1)},
        }
    )
    return _in_scan_batches(cells)


def _read_csv(path: Path, read: tuple[bytes, bytes] | None = None) -> RecordsRead:
    """One CSV file's rows (`read`: its bytes and text, when already read)."""
    try:
        data, text = read or _csv_bytes(path)
        table = csv_tables.read_file(text)
    except (OSError, EOFError, zlib.error, UnicodeError, pa.ArrowInvalid, csv.Error) as error:
        return RecordsRead([_unreadable(path, error)], None, "csv")
    # The hash is of the bytes just parsed, not of a second read of the file.
    cells = _cells([str(path)], [table.num_rows], table)
    return RecordsRead([_state(path, data)], cells, "csv", tuple(table.column_names))


@dataclass
class _CsvRun:
    """Consecutive small CSV files of one shared header line, read and not yet parsed:
    they are parsed together (csv_tables.read_together), or one by one where that
    cannot be shown to give what each gives alone."""

    header: bytes | None = None
    files: list[tuple[Path, bytes, bytes]] = field(default_factory=list)
    nbytes: int = 0

    def joins(self, header: bytes, text: bytes) -> bool:
        return header == self.header and self.nbytes + len(text) <= SCAN_BYTES

    def add(self, path: Path, data: bytes, text: bytes, header: bytes) -> None:
        self.header = header
        self.files.append((path, data, text))
        self.nbytes += len(text)

    def reads(self) -> Iterator[RecordsRead]:
        """The run's records, and the run emptied."""
        files, header = self.files, self.header
        self.files, self.header, self.nbytes = [], None, 0
        together = None
        if len(files) > 1:
            bodies = [csv_tables.body(text, header) for _, _, text in files]
            together = csv_tables.read_together(header, bodies)
        if together is None:
            for path, data, text in files:
                yield _read_csv(path, (data, text))
            return
        table, rows = together
        yield RecordsRead(
            [_state(path, data) for path, data, _ in files],
            _cells([str(path) for path, _, _ in files], rows, table),
            "csv",
            tuple(table.column_names),
        )


def _tables(paths: list[Path]) -> Iterator[RecordsRead]:
    """The records of JSON Lines and CSV files, file by file in order, except that a run
    of small CSV files of one header line is parsed as one (csv_tables.py)."""
    run = _CsvRun()
    for path in paths:
        if _shape(path) != "csv":
            yield from run.reads()
            yield _read_lines(path)
            continue
        try:
            data, text = _csv_bytes(path)
        except (OSError, EOFError, zlib.error) as error:
            yield from run.reads()
            yield RecordsRead([_unreadable(path, error)], None, "csv")
            continue
        header = csv_tables.shared_header(text)
        if header is None or not run.joins(header, text):
            yield from run.reads()
        if header is None:
            yield _read_csv(path, (data, text))
        else:
            run.add(path, data, text, header)
    yield from run.reads()
