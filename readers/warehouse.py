"""Read-only access to the warehouse, shared by every reader (`sql`, `report`, the page).

Readers open the file read-only, wait a bounded time while a run writes it, and turn
every failure a user can cause into one sentence. Nothing here imports Dagster.

A reader's connection is also shut inside the warehouse file: DuckDB's own settings
refuse every query that would reach another file, the network or an extension (COPY ...
TO, EXPORT DATABASE, ATTACH, read_csv('/etc/passwd'), INSTALL/LOAD), and the settings are
locked, so a query cannot SET them back. What remains is SELECT (and PRAGMA/SHOW/
DESCRIBE/SUMMARIZE) over the warehouse's own tables and in-memory temporary tables.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date
from typing import TYPE_CHECKING, NamedTuple

import duckdb
import pandas as pd

from config.settings import Settings
from ingest.warehouse import connect, pending_model_builds

if TYPE_CHECKING:
    import pyarrow as pa

# DuckDB settings of every reader's connection (see the module docstring). With external
# access off, the database file opened at connect time (and DuckDB's spill files beside
# it) is the only file the connection can touch; no directory is allowed beyond it.
READER_SANDBOX = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
}


class QueryError(Exception):
    """A query a reader sent could not run; the message is one sentence for the user."""


def reader_connection(
    settings: Settings, wait_seconds: float | None = None
) -> duckdb.DuckDBPyConnection:
    """The warehouse opened read-only, confined to its own file, with its settings locked;
    waits `wait_seconds` (default: the read_wait_seconds setting) for a writer to finish."""
    if wait_seconds is None:
        wait_seconds = settings.read_wait_seconds
    connection = connect(settings, read_only=True, wait_seconds=wait_seconds, config=READER_SANDBOX)
    # A long query (an export) would otherwise draw DuckDB's progress bar on stderr.
    connection.execute("SET enable_progress_bar = false")
    # Last, after connect() set the session time zone: from here on no SET or PRAGMA
    # that changes a setting is accepted (it would be the way to undo the sandbox).
    connection.execute("SET lock_configuration = true")
    return connection


class _SharedReads:
    """The connection the reads of one command share (`shared_reads`), opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connection: duckdb.DuckDBPyConnection | None = None


_SHARED_READS: ContextVar[_SharedReads | None] = ContextVar("shared_reads", default=None)


@contextmanager
def shared_reads(settings: Settings) -> Iterator[None]:
    """Let every read of `settings` inside the block (`reading`, `read_query`,
    `stream_queries`) use one connection, opened at the first read and closed at the end.

    Opening a connection costs about 30 ms of CPU (DuckDB reads the file's catalog again),
    and one `llm-usage report` opened 25. One connection also reads one state of the
    warehouse: a writer cannot take the file between two of a command's queries, so its
    figures cannot come from two builds. Only for commands that only read: the connection
    keeps any writer out until the block ends.
    """
    shared = _SharedReads(settings)
    token = _SHARED_READS.set(shared)
    try:
        yield
    finally:
        _SHARED_READS.reset(token)
        if shared.connection is not None:
            shared.connection.close()


@contextmanager
def reading(
    settings: Settings, wait_seconds: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A reader connection (`reader_connection`): the one `shared_reads` keeps for these
    settings, else one of its own, closed when the block ends."""
    shared = _SHARED_READS.get()
    if shared is not None and shared.settings == settings:
        if shared.connection is None:
            shared.connection = reader_connection(settings, wait_seconds)
        yield shared.connection
        return
    connection = reader_connection(settings, wait_seconds)
    try:
        yield connection
    finally:
        connection.close()


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def read_query(settings: Settings, query: str, params: list | None = None) -> pd.DataFrame:
    """Run a read-only query on the warehouse and return a pandas DataFrame."""
    if not query.strip().strip(";").strip():
        raise QueryError(
            "The query is empty; pass one SQL statement, for example "
            '"SELECT * FROM main_marts.mart_usage_summary LIMIT 10".'
        )
    with reading(settings) as connection:
        try:
            connection.execute(query, params or [])
            if connection.description is None:  # a statement that returns no rows at all
                return pd.DataFrame()
            return connection.fetchdf()
        except duckdb.Error as error:
            raise _query_error(error) from None


@contextmanager
def stream_queries(
    settings: Settings, queries: list[tuple[str, list]], batch_rows: int = 100_000
) -> Iterator[tuple[pa.Schema, Iterator[pa.RecordBatch]]]:
    """Run read-only queries one after the other on one connection and hand their rows
    over as one stream of Arrow record batches of at most `batch_rows` rows (with the
    first query's schema), so that a reader of a large result holds one batch at a time.
    DuckDB computes a query whole before its first row only where it must (a sort): the
    caller splits a large result into queries that each need little. Inside
    `shared_reads` the stream runs on the command's connection: no other read may run
    until the stream is consumed (a query on a DuckDB connection ends its open result)."""
    with reading(settings) as connection:
        readers = (
            _arrow_reader(connection, query, params, batch_rows) for query, params in queries
        )
        first = next(readers)

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from first
                for reader in readers:
                    yield from reader
            except duckdb.Error as error:
                raise _query_error(error) from None

        yield first.schema, batches()


def _arrow_reader(
    connection: duckdb.DuckDBPyConnection, query: str, params: list, batch_rows: int
) -> pa.RecordBatchReader:
    try:
        # The relation API streams; an execute() result is copied whole before Arrow.
        return connection.sql(query, params=params or None).to_arrow_reader(batch_rows)
    except duckdb.Error as error:
        raise _query_error(error) from None


def _query_error(error: duckdb.Error) -> QueryError:
    """A DuckDB error of a reader's query as one sentence for the user."""
    if isinstance(error, duckdb.PermissionException):
        return QueryError(
            f"The query was refused: {_first_line(error)} (readers may only read the "
            "warehouse's own tables; they cannot read or write other files, attach "
            "databases or load extensions)."
        )
    message = _first_line(error)
    if "the configuration has been locked" in message:
        return QueryError(f"The query was refused: {message} (reader settings are fixed).")
    if "read-only mode" in message:
        return QueryError(
            f"The query was refused: {message} (the warehouse is read-only for readers)."
        )
    if message.startswith("Catalog Error") and "does not exist" in message:
        message += (
            ' (llm-usage sql "SHOW ALL TABLES" lists the tables; the facts and marts '
            "exist once `llm-usage materialize` has built them)"
        )
    return QueryError(f"The query failed: {message}")


def _table_exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        connection.execute(
            # Views too: on Spark the raw tables are views over the lake (ingest/lake.py).
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


class HeldDay(NamedTuple):
    """A landing day a data-quality check holds out of the facts and marts, and why."""

    landing_date: date
    failed_checks: str  # the failed checks' names, comma-separated


def held_days(settings: Settings) -> list[HeldDay]:
    """Landing days on quality hold (raw.quality_holds), oldest first.

    Empty on a warehouse built before the table existed.
    """
    with reading(settings) as connection:
        if not _table_exists(connection, "raw", "quality_holds"):
            return []
        rows = connection.execute(
            "SELECT landing_date, failed_checks FROM raw.quality_holds ORDER BY landing_date"
        ).fetchall()
    return [HeldDay(day, checks) for day, checks in rows]


def describe_days(days: list[date]) -> str:
    """'2026-03-01 .. 2026-03-03, 2026-03-05' for sorted days."""
    spans: list[list[date]] = []
    for day in days:
        if spans and (day - spans[-1][1]).days == 1:
            spans[-1][1] = day
        else:
            spans.append([day, day])
    return ", ".join(str(a) if a == b else f"{a} .. {b}" for a, b in spans)


def quality_hold_note(settings: Settings) -> str | None:
    """Which landing days are on quality hold, why, and how to release them, as a note."""
    held = held_days(settings)
    if not held:
        return None
    days = [h.landing_date for h in held]
    # The reason is a sentence (a systemic fault's failing share, or checks that could
    # not run), so it is shown per day as written, not split.
    reasons = "; ".join(f"{h.landing_date}: {h.failed_checks}" for h in held)
    first, last = days[0], days[-1]
    return (
        f"Note: landing day(s) {describe_days(days)} are on quality hold ({reasons}), so "
        "their records are left out of the facts and marts (figures for the days they "
        f"cover are missing them). To release: fix or replace the files in "
        f"{settings.landing_dir}/dt={first if first == last else 'YYYY-MM-DD'} and "
        f"run `llm-usage materialize --start {first} --end {last}`; a run whose checks "
        'pass lifts the hold. Held days: llm-usage sql "SELECT * FROM raw.quality_holds".'
    )


def models_behind_note(settings: Settings) -> str | None:
    """Which landing days the facts and marts have not caught up with, as a sentence.

    Tables can disagree about those days' event days until a build finishes. Days on
    quality hold are left to `quality_hold_note`: they wait for new files, not for a run.
    """
    with reading(settings) as connection:
        pending = pending_model_builds(connection)
        held = set()
        if pending and _table_exists(connection, "raw", "quality_holds"):
            held = {
                row[0]
                for row in connection.execute(
                    "SELECT DISTINCT landing_date FROM raw.quality_holds"
                ).fetchall()
            }
    pending = [(day, at) for day, at in pending if day not in held]
    return behind_sentence(pending)


def behind_sentence(pending: list) -> str | None:
    """`models_behind_note`'s sentence for rows of `pending_model_builds` already read."""
    if not pending:
        return None
    days = ", ".join(day.isoformat() for day, _ in pending)
    since = min(requested_at for _, requested_at in pending).astimezone(UTC)
    return (
        f"Note: the facts and marts have not caught up with landing day(s) {days} "
        f"(queued since {since:%Y-%m-%d %H:%M} UTC): a run is rebuilding them, or one "
        "stopped before it finished and the next run will. Until then, figures for the "
        "days those records touch may disagree between tables."
    )


def note_models_behind(settings: Settings) -> None:
    """Print the quality-hold and caught-up notes on stderr, if there are any."""
    for note in (quality_hold_note(settings), models_behind_note(settings)):
        if note:
            print(note, file=sys.stderr)
