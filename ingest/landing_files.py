"""Reading a landing file's bytes: a JSON Lines file (plain or gzip) as numbered lines,
counted from its bytes apart from any parsing, so that a loss inside a file shows in the
reconciliation; and the file's hash, by which re-deliveries and the late-file sensor
recognise it.

Shared by the loader of our own format (ingest/load.py) and the source adapters
(ingest/sources/files.py).
"""

from __future__ import annotations

import codecs
import hashlib
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa

LINES_SCHEMA = pa.schema(
    [("line_number", pa.int64()), ("raw_line", pa.large_string()), ("read_error", pa.string())]
)
# Rows per Arrow record batch handed to DuckDB: it scans batches in parallel.
BATCH_ROWS = 100_000
# Bytes of records (decompressed) read from several files and then checked by one run of
# the contract's query, in our format's folders and in the source folders alike. Each run
# is a query to plan (0.1-0.4 s of CPU, as long for ten records as for a million), so a
# day of thousands of small files, as a gateway that flushes often writes, must not be a
# run per file; a file larger than this is a batch of its own.
BATCH_BYTES = 512 << 20
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


class CutShort(Exception):
    """A gzip file ended before its end-of-stream marker: the bytes before the cut."""

    def __init__(self, data: bytes, error: Exception) -> None:
        super().__init__(str(error))
        self.data = data


def gunzip(compressed: bytes) -> bytes:
    """Decompress every gzip member of `compressed`; raise CutShort with what came out
    before the cut when the file ends early (an upload that stopped), so the lines read
    before it are checked like any others and counted.

    Members are files joined (`cat a.gz b.gz`): a byte-order mark at the start of any
    member is dropped like the one at the start of a plain file, not left to spoil the
    line it begins."""
    pieces, rest = [], compressed
    while rest:
        inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
        try:
            member = inflater.decompress(rest)
            pieces.append(member[3:] if member.startswith(codecs.BOM_UTF8) else member)
            pieces.append(inflater.flush())
        except zlib.error as error:
            if not pieces:
                raise  # not gzip at all: the file is unreadable, nothing came out
            raise CutShort(b"".join(pieces), error) from None
        if not inflater.eof:
            if not pieces or not any(pieces):
                raise EOFError("the gzip stream ends before any data")
            raise CutShort(b"".join(pieces), EOFError("the gzip stream ends early"))
        rest = inflater.unused_data
        if rest.strip(b"\0") == b"":  # padding after the last member, as gzip allows
            break
    return b"".join(pieces)


def _cr_line_ends(data: bytes) -> bytes:
    """Text whose lines end in CR alone (classic Mac OS, some exports) read as lines: a
    file that holds CR but no LF has its CRs turned into LFs, before the lines are
    counted. (JSON Lines puts a record on one line, so no record spans a CR.) In a file
    that also holds LF, a CR is left as it is, since "\r\r\n" from a twice-converted
    file still ends one line; a line holding a CR inside says so when it is rejected
    (contract.py)."""
    if b"\n" in data or b"\r" not in data:
        return data
    return data.replace(b"\r", b"\n")


def count_lines_in(data: bytes) -> int:
    """Lines of JSON Lines text counted from its bytes alone: each "\n" ends one, and a
    last line without one still counts. The reconciliation compares the loader's rows
    with this number, so it shares nothing with the line splitting below."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def lines_and_sha256(path: Path) -> tuple[pa.Table, int, str | None, str]:
    """Every line of a JSON Lines file, numbered from 1, as (line_number, raw_line,
    read_error), with the line count, for a gzip file cut short what happened, and the
    SHA-256 of the file's bytes, from one read (reading a file a second time for its hash
    cost as much as hashing it). raw_line still ends with its "\n" or "\r\n" (the
    contract's query drops it): the lines are then a view of the decompressed bytes,
    never copied."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    return (*_lines_of_bytes(path, data), digest)


def _lines_of_bytes(path: Path, data: bytes) -> tuple[pa.Table, int, str | None]:
    cut = None
    if path.name.endswith(".gz"):
        try:
            data = gunzip(data)
        except CutShort as short:
            data = short.data
            cut = (
                f"gzip file cut short after {count_lines_in(data):,} lines ({short}); the lines "
                "before the cut were read, the last one may be partial; replace it with a "
                "complete .jsonl.gz"
            )
    data = _cr_line_ends(data)
    lines_read = count_lines_in(data)
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
    if start and lines_read == 1 and len(data) == start:
        lines_read = 0  # a byte order mark alone is no line
    table = pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS), table.schema)
    return table, lines_read, cut


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


def end_to_end(tables: list[pa.Table], batch_rows: int) -> pa.Table:
    """The tables (of one schema) laid end to end, in order, with runs of small tables
    merged into record batches of up to `batch_rows` rows. DuckDB scans each record batch
    as a task of its own: 2,000 batches of ten lines cost it ten times the checking of
    the lines. A table of `batch_rows` rows or more is kept as it is, not copied."""
    runs: list[list[pa.Table]] = [[]]
    rows = 0
    for table in tables:
        if runs[-1] and (rows + table.num_rows > batch_rows or table.num_rows >= batch_rows):
            runs.append([])
            rows = 0
        runs[-1].append(table)
        rows += table.num_rows
    return pa.concat_tables(
        [run[0] if len(run) == 1 else pa.concat_tables(run).combine_chunks() for run in runs]
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
