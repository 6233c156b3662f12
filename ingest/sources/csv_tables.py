"""How a CSV export's text becomes a table of cells: every cell as text (an empty one as
null), quoted cells may hold newlines, the header as the first row; and how a run of
small files of one header is parsed in one go.

A gateway that flushes often writes a day as thousands of CSV files of a few rows, each
starting with the same header line. One pyarrow parse per file cost more than the rows
in it (0.2-0.4 ms a file), so such a run is parsed together (`read_together`): the
files' bodies laid end to end, each preceded by a boundary row, and the rows between
two boundary rows are a file's rows. The result is what each file gives parsed alone
(`read_file`), or None when that cannot be shown, and then the files are parsed alone.
"""

from __future__ import annotations

import codecs
import csv
import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

_PARSE_OPTIONS = pacsv.ParseOptions(newlines_in_values=True)
# The cell value of the boundary rows laid between the files of a run; a run in which
# some file holds these bytes anywhere is parsed file by file instead.
BOUNDARY = "llm-usage-warehouse:file-boundary"


def _as_text(names: list[str]) -> pacsv.ConvertOptions:
    """Every named column as text, an empty cell as null, a quoted empty cell as ""."""
    return pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )


def header_names(text: bytes) -> list[str]:
    """The header row's names, as Python's csv module reads them (a byte-order mark
    dropped)."""
    with io.TextIOWrapper(io.BytesIO(text), encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def read_file(text: bytes) -> pa.Table:
    """One file's rows: a column per header name, every cell as text. Raises
    pa.ArrowInvalid, UnicodeError or csv.Error for text that is not such a table."""
    return pacsv.read_csv(
        pa.BufferReader(text),
        parse_options=_PARSE_OPTIONS,
        convert_options=_as_text(header_names(text)),
    )


def shared_header(text: bytes) -> bytes | None:
    """The file's header line (ending in its newline, after any byte-order mark) when
    files can be parsed together by it: a line that holds no quote or lone carriage
    return, so that it is the whole header row and the body starts right after it.
    None for any other file, which is parsed alone."""
    text = text.removeprefix(codecs.BOM_UTF8)
    end = text.find(b"\n")
    if end < 0:
        return None
    line = text[: end + 1]
    content = line.removesuffix(b"\n").removesuffix(b"\r")
    if not content or b'"' in content or b"\r" in content:
        return None
    return line


def body(text: bytes, header: bytes) -> bytes:
    """The rows after the header line `shared_header` gave for `text`."""
    return text.removeprefix(codecs.BOM_UTF8)[len(header) :]


def read_together(header: bytes, bodies: list[bytes]) -> tuple[pa.Table, list[int]] | None:
    """The rows of files that each are `header` followed by a body, parsed in one go:
    (the cells of every row, in file and row order, as `read_file` types them; the
    rows of each file), or None when they must be parsed one by one.

    Each body is preceded by a boundary row (BOUNDARY in every cell) and the last one
    followed by one. A boundary row's first cell equals BOUNDARY only when the row is
    read from its start outside quotes (the bytes occur in no file, and a quoted cell
    running into it would hold the newline before it). So when the parse gives exactly
    one boundary row more than there are files, every body was parsed from the state a
    file's body starts in alone and ended with its quotes closed, and its rows are the
    ones it gives alone; a parse error (a row of another width, bad UTF-8) or a
    boundary row swallowed by a quote sends the files to be parsed alone, where each
    error is the file's own."""
    try:
        names = header_names(header)
        columns = read_file(header).column_names
    except (pa.ArrowInvalid, UnicodeError, csv.Error):
        return None
    # Every column named as csv reads the header is typed as text; a column pyarrow
    # names otherwise would have its type guessed from each file's rows.
    if columns != names:
        return None
    marker = BOUNDARY.encode()
    if any(marker in text for text in bodies):
        return None
    boundary = b",".join([marker] * len(columns)) + b"\n"
    pieces = []
    for text in bodies:
        pieces += [boundary, text]
        if text and not text.endswith(b"\n"):
            pieces.append(b"\n")
    pieces.append(boundary)
    generated = [f"c{index}" for index in range(len(columns))]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(b"".join(pieces)),
            read_options=pacsv.ReadOptions(column_names=generated),
            parse_options=_PARSE_OPTIONS,
            convert_options=_as_text(generated),
        )
    except pa.ArrowInvalid:
        return None
    is_boundary = pc.fill_null(pc.equal(table.column(0), BOUNDARY), False)
    at = np.flatnonzero(is_boundary.to_numpy(zero_copy_only=False))
    if len(at) != len(bodies) + 1:
        return None
    rows = (np.diff(at) - 1).tolist()
    return table.filter(pc.invert(is_boundary)).rename_columns(columns), rows
