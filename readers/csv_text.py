"""CSV that is safe to open in a spreadsheet: every CSV this project writes goes through
`to_csv` (docs/operations.md, "Names from logs are text").

Key, team, model and provider names come from gateway logs and are not trusted. A
spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (a key named
`=HYPERLINK(...)` would open as a live link), and one starting with a tab or a carriage
return can hide such a start. As OWASP recommends ("CSV Injection"), such a text cell
gets a leading apostrophe, which spreadsheets read as "this is text" and do not show.
Numbers are written as they are: a negative figure is a number, not a formula. Quoting
follows RFC 4180 (the `csv` module's minimal quoting, CRLF line ends); the text is UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, made plain text; any other
    value unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_rows(handle, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write a header and rows to an open text handle, every text cell made safe."""
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(v) for v in row])


def to_csv(frame: pd.DataFrame) -> str:
    """A data frame as spreadsheet-safe CSV text (missing values as empty cells)."""
    out = io.StringIO()
    rows = (
        [None if _missing(v) else v for v in row]
        for row in frame.itertuples(index=False, name=None)
    )
    write_rows(out, [str(c) for c in frame.columns], rows)
    return out.getvalue()


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
