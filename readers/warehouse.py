"""Read-only access to the warehouse, shared by every reader (`sql`, `report`, the page).

Readers open the file read-only, wait a bounded time while a run writes it, and turn
every failure a user can cause into one sentence. Nothing here imports Dagster.
"""

from __future__ import annotations

import sys
from datetime import timezone

import duckdb
import pandas as pd

from config.settings import Settings
from ingest.warehouse import connect, pending_model_builds

READER_WAIT_SECONDS = 10


class QueryError(Exception):
    """A query a reader sent could not run; the message is one sentence for the user."""


def read_query(settings: Settings, query: str, params: list | None = None) -> pd.DataFrame:
    """Run a read-only query on the warehouse and return a pandas DataFrame."""
    connection = connect(settings, read_only=True, wait_seconds=READER_WAIT_SECONDS)
    try:
        return connection.execute(query, params or []).fetchdf()
    except duckdb.Error as error:
        raise QueryError(f"The query failed: {str(error).splitlines()[0]}") from None
    finally:
        connection.close()


def models_behind_note(settings: Settings) -> str | None:
    """Which landing days the facts and marts have not caught up with, as a sentence.

    Tables can disagree about those days' event days until a build finishes.
    """
    connection = connect(settings, read_only=True, wait_seconds=READER_WAIT_SECONDS)
    try:
        pending = pending_model_builds(connection)
    finally:
        connection.close()
    return behind_sentence(pending)


def behind_sentence(pending: list) -> str | None:
    """`models_behind_note`'s sentence for rows of `pending_model_builds` already read."""
    if not pending:
        return None
    days = ", ".join(day.isoformat() for day, _ in pending)
    since = min(requested_at for _, requested_at in pending).astimezone(timezone.utc)
    return (
        f"Note: the facts and marts have not caught up with landing day(s) {days} "
        f"(queued since {since:%Y-%m-%d %H:%M} UTC): a run is rebuilding them, or one "
        "stopped before it finished and the next run will. Until then, figures for the "
        "days those records touch may disagree between tables."
    )


def note_models_behind(settings: Settings) -> None:
    """Print `models_behind_note` on stderr, if there is one."""
    note = models_behind_note(settings)
    if note:
        print(note, file=sys.stderr)
