"""`llm-usage export`: a mart, or a documented view of one, for a range of periods, as
CSV, Parquet or JSON lines (docs/exports.md).

Columns keep the names and units of docs/metrics.md (they are the mart's own, read from
the marts' YAML); periods are ISO dates and numbers are written unformatted. Rows are
streamed from DuckDB in Arrow record batches, one sorted query per period, and written
batch by batch, so an export holds one period's sort and one batch in memory whatever
its range; a file is written under a temporary name
beside the final one and renamed into place only when complete, so a failed or
interrupted export never leaves a partial file under the name asked for.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import IO

from config.settings import Settings
from readers.csv_text import write_rows
from readers.filters import filter_columns, held_filter_sets
from readers.hours import HOURLY_LATENCY_MART, HOURLY_MART
from readers.panels import load_mart_models
from readers.report import period_containing
from readers.warehouse import read_query, stream_queries

FORMATS = ("csv", "parquet", "jsonl")
GRAINS = ("hour", "day", "week", "month")
HOUR = "hour"  # the hourly marts' only grain: local hours, chosen by their local day
HIDDEN = {"built_at"}  # bookkeeping of the build, not a figure
BATCH_ROWS = 50_000  # rows held in memory at a time


def keys() -> tuple[str, ...]:
    """The columns that identify a mart row: the period and the declared filters."""
    return ("grain", "period_start", *filter_columns())


class ExportError(Exception):
    """An export that cannot be made as asked; the message is one sentence for the user."""


@dataclass(frozen=True)
class Source:
    """What an export reads: a mart, or a view of one."""

    name: str  # as the user names it
    mart: str
    columns: tuple[str, ...]  # the figures, after keys()
    detail_only: bool  # a view: only the rows of real keys, models and providers (no '*')


# The documented views (docs/exports.md): the rows of each real key x model x provider
# (no '*' total rows), so that a spreadsheet's sum over them is the total.
VIEWS = {
    "usage": ("mart_usage_summary", ("total_tokens", "input_tokens", "output_tokens", "requests")),
    "spend": (
        "mart_usage_summary",
        ("spend_usd", "requests_with_cost", "requests", "cost_coverage", "total_tokens"),
    ),
}


@cache
def mart_columns() -> Mapping[str, tuple[str, ...]]:
    """Each mart's figure columns, as the marts' YAML declares them (read once per process:
    one export asks several times, and the YAML is over a thousand lines)."""
    return MappingProxyType(
        {
            model["name"]: tuple(
                c["name"]
                for c in model["columns"]
                if c["name"] not in keys() and c["name"] not in HIDDEN
            )
            for model in load_mart_models()
        }
    )


def names() -> list[str]:
    """Every name `export` accepts: the views, then the marts."""
    return [*VIEWS, *mart_columns()]


def resolve_source(name: str) -> Source:
    """The view or mart called `name` (a mart with or without its `mart_` prefix)."""
    marts = mart_columns()
    if name in VIEWS:
        mart, columns = VIEWS[name]
        return Source(name, mart, columns, True)
    mart = name if name in marts else f"mart_{name}"
    if mart not in marts:
        raise ExportError(
            f"There is no mart or view called {name!r}; choose one of: {', '.join(names())}."
        )
    return Source(name, mart, marts[mart], False)


def hourly(source: Source) -> bool:
    """Whether the source holds local hours (docs/metrics.md, "Hours") and nothing else."""
    return source.mart in (HOURLY_MART, HOURLY_LATENCY_MART)


def check_grain(source: Source, grain: str) -> None:
    """An hourly mart holds hours only, the others no hours: say which grain to pass."""
    if hourly(source) and grain != HOUR:
        raise ExportError(
            f"{source.name} holds local hours only: pass --grain hour "
            "(--period or --from/--to choose their days)."
        )
    if not hourly(source) and grain == HOUR:
        raise ExportError(
            f"{source.name} has no hours (--grain day, week or month); the hourly figures "
            f"are in {HOURLY_MART} and {HOURLY_LATENCY_MART}."
        )


def choose_columns(source: Source, wanted: list[str] | None) -> tuple[str, ...]:
    """The figure columns to write: all of the source's, or the ones asked for, in order."""
    if not wanted:
        return source.columns
    unknown = [c for c in wanted if c not in source.columns and c not in keys()]
    if unknown:
        raise ExportError(
            f"{source.name} has no column {unknown[0]!r}; its columns are: "
            f"{', '.join(source.columns)} (after {', '.join(keys())}, which every export has)."
        )
    return tuple(dict.fromkeys(c for c in wanted if c not in keys()))


@dataclass(frozen=True)
class Periods:
    """The periods of one grain whose first day lies in [first, last] (None: open); for
    hours, the hours of the local days [first, last]."""

    grain: str
    first: date | None = None
    last: date | None = None

    @classmethod
    def between(cls, grain: str, start: date | None, end: date | None) -> Periods:
        """The periods that hold any day of [start, end]."""
        if start and end and start > end:
            raise ExportError(f"--from {start} is after --to {end}: the range is empty.")
        if grain == HOUR:
            return cls(grain, start, end)
        return cls(grain, period_containing(grain, start) if start else None, end)

    @property
    def column(self) -> str:
        """The column that places a row in the range: an hour by its local day."""
        return "event_date" if self.grain == HOUR else "period_start"


def _where(source: Source, periods: Periods, chosen: dict[str, str]) -> tuple[str, list]:
    clauses, params = ["grain = ?"], [periods.grain]
    if periods.first:
        clauses.append(f"{periods.column} >= ?")
        params.append(periods.first)
    if periods.last:
        clauses.append(f"{periods.column} <= ?")
        params.append(periods.last)
    # A view lists the finest held combination with the chosen filters (API key x model
    # x provider without one, team x model x provider with --team): real values there,
    # '*' in the filters the combination leaves out.
    kept = {c for c, v in chosen.items() if v != "*"}
    detail = next(s for s in sorted(held_filter_sets(), key=len, reverse=True) if kept <= s)
    for dimension in filter_columns():
        if dimension in chosen:
            clauses.append(f"{dimension} = ?")
            params.append(chosen[dimension])
        elif source.detail_only:
            clauses.append(f"{dimension} <> '*'" if dimension in detail else f"{dimension} = '*'")
    return " AND ".join(clauses), params


def export_queries(
    settings: Settings,
    source: Source,
    columns: tuple[str, ...],
    periods: Periods,
    chosen: dict[str, str],
) -> list[tuple[str, list]]:
    """The SQL and parameters that read the export's rows in a stable order: one query
    per period, so that DuckDB sorts one period's rows at a time (a year of days exports
    in the memory of one day; hours a local day at a time). Empty when no period has a
    row."""
    where, params = _where(source, periods, chosen)
    starts = read_query(
        settings,
        f"SELECT DISTINCT {periods.column} FROM main_marts.{source.mart} WHERE {where} ORDER BY 1",
        params,
    )[periods.column]
    select = ", ".join([*keys(), *columns])
    # The period, the filters, then every exported column: a mart listing several rows per filter
    # (a group's dimension and id, a tag's key and value) still comes in one order.
    # period_start first: a query of hours holds a local day's hours.
    order = ", ".join(dict.fromkeys(["period_start", *keys()[2:], *columns]))
    return [
        (
            f"SELECT {select} FROM main_marts.{source.mart} WHERE {where} "
            f"AND {periods.column} = ? ORDER BY {order}",
            [*params, start],
        )
        for start in starts
    ]


# ------------------------------------------------------------------------------- writers


def _text(value: object) -> object:
    """A cell of CSV or JSON: dates and instants as ISO 8601, NaN as missing."""
    if isinstance(value, datetime):
        if value.utcoffset() is not None and not value.utcoffset():
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")  # UTC, as FOCUS writes it
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _cells(column) -> list:
    """An Arrow column's cells of CSV or JSON, as `_text` makes each of them: dates, UTC
    instants and floats converted by Arrow for the whole column (a `_text` call per cell
    took most of an export's time), other instants cell by cell, and every other type
    as to_pylist() gives it (counts, names, DECIMALs: `_text` leaves them as they are)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_date(kind):
        return pc.strftime(column, format="%Y-%m-%d").to_pylist()
    if pa.types.is_timestamp(kind) and kind.tz in ("UTC", "Etc/UTC", "+00:00"):
        # Whole seconds (floored, before 1970 too), as datetime.strftime writes them.
        floored = pc.floor_temporal(column, multiple=1, unit="second")
        seconds = pc.cast(floored, pa.timestamp("s", tz=kind.tz))
        return pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ").to_pylist()
    if pa.types.is_floating(kind):
        return pc.if_else(pc.is_nan(column), pa.scalar(None, kind), column).to_pylist()
    if pa.types.is_temporal(kind):
        return [_text(v) for v in column.to_pylist()]
    return column.to_pylist()


def _rows(batches) -> Iterator[tuple]:
    for batch in batches:
        yield from zip(*(_cells(column) for column in batch.columns))


def write_csv(handle: IO[bytes], schema, batches) -> None:
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=False)
    write_rows(text, schema.names, _rows(batches))
    text.flush()
    text.detach()


def _json_number(value: object) -> float:
    """A DECIMAL figure as a JSON number (JSON has no other kind)."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def write_jsonl(handle: IO[bytes], schema, batches) -> None:
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="\n")
    for row in _rows(batches):
        text.write(
            json.dumps(
                dict(zip(schema.names, row)),
                ensure_ascii=False,
                allow_nan=False,
                default=_json_number,
            )
        )
        text.write("\n")
    text.flush()
    text.detach()


def write_parquet(handle: IO[bytes], schema, batches) -> None:
    import pyarrow.parquet as pq

    with pq.ParquetWriter(handle, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)


WRITERS = {"csv": write_csv, "parquet": write_parquet, "jsonl": write_jsonl}


@contextmanager
def file_in_place(path: Path) -> Iterator[IO[bytes]]:
    """A binary handle whose content appears at `path` only if the block completes: it is
    written to a temporary file in the same folder (so the rename is atomic), which is
    removed on any failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
    )
    try:
        # mkstemp makes the file private; the export gets a new file's usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _Counted:
    def __init__(self, batches):
        self.batches, self.rows = batches, 0

    def __iter__(self):
        for batch in self.batches:
            self.rows += batch.num_rows
            yield batch


def write_export(
    settings: Settings,
    queries: list[tuple[str, list]],
    fmt: str,
    out: Path | None,
    stdout: IO[bytes] | None = None,
    *,
    schema_of=None,
    allow_empty: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> int:
    """Stream the queries' rows to `out` (or to `stdout` when `out` is None) in `fmt`;
    returns the number of rows. Without a row it raises ExportError("empty") before
    anything is written, unless `allow_empty` (then the columns alone are written).
    `schema_of` may turn each Arrow batch into the one to write."""
    if not queries:
        raise ExportError("empty")
    convert = schema_of or (lambda batch: batch)
    with stream_queries(settings, queries, batch_rows) as (schema, stream):
        batches = (batch for batch in stream if batch.num_rows)
        first = next(batches, None)  # before any output: an empty result writes nothing
        if first is None:
            if not allow_empty:
                raise ExportError("empty")
            first = _empty_batch(schema)
        first = convert(first)
        counted = _Counted(_chain(first, (convert(b) for b in batches)))
        if out is None:
            WRITERS[fmt](stdout, first.schema, counted)
            stdout.flush()
        else:
            with file_in_place(out) as handle:
                WRITERS[fmt](handle, first.schema, counted)
        return counted.rows


def _empty_batch(schema):
    import pyarrow as pa

    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


def _chain(first, rest):
    yield first
    yield from rest
