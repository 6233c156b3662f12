"""Which loaded landing days no longer match their files (a late upload, a corrected file).

`load_partition` records every file it read in `raw.ingested_files` (name, size, mtime,
sha256). Comparing that record with the landing folder as it is now tells which days
need loading again. Size and mtime are compared first; a file whose mtime alone moved
is hashed, so a copy that touched the file without changing it is not a change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from config.settings import Settings
from ingest import sources
from ingest.landing_files import file_sha256
from ingest.load import own_format_files


@dataclass(frozen=True)
class FileState:
    size_bytes: int
    modified_at: datetime
    sha256: str | None = None  # known for recorded files; computed on demand for landing ones


@dataclass(frozen=True)
class LandingDayChange:
    landing_date: date
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    fingerprint: str  # identifies the folder's current state: same files, same fingerprint

    def describe(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("new", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
            )
            if names
        ]
        return f"{self.landing_date}: " + "; ".join(parts)


def _key(settings: Settings, path: Path) -> str:
    """How a landing file is named here: by its name in our own format's day folder,
    as `SOURCE/name` in a source folder's (ingest/sources/)."""
    try:
        parts = path.relative_to(settings.landing_dir).parts
    except ValueError:
        return path.name  # read from a landing root that has moved since
    return "/".join(parts[:-2] + parts[-1:])  # without the dt=... folder


def _current_paths(settings: Settings, landing_date: date) -> dict[str, Path]:
    # The files load_partition reads: an upload in progress under a hidden name would
    # otherwise look new on every tick.
    paths = own_format_files(settings, landing_date)
    for day in sources.source_days(settings, landing_date):
        paths += day.files
    return {_key(settings, path): path for path in paths}


def current_files(settings: Settings, landing_date: date) -> dict[str, FileState]:
    """The landing files of one day as they are now, by name (`SOURCE/name` for a
    source folder's)."""
    return _states(_current_paths(settings, landing_date))


def _states(paths: dict[str, Path]) -> dict[str, FileState]:
    states = {}
    for key, path in paths.items():
        stat = path.stat()
        # The same conversion load_partition stores, so equal files compare equal.
        states[key] = FileState(stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
    return states


def recorded_files(connection: duckdb.DuckDBPyConnection) -> dict[date, dict[str, FileState]]:
    """What the last load of each landing day read, by day and file path."""
    exists = connection.execute(
        # information_schema lists views too: the lake's raw tables are views (ingest/lake.py).
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'raw' AND table_name = 'ingested_files'"
    ).fetchone()[0]
    if not exists:
        return {}
    recorded: dict[date, dict[str, FileState]] = {}
    for day, path, size, modified_at, sha in connection.execute(
        "SELECT landing_date, path, size_bytes, modified_at, sha256 FROM raw.ingested_files"
    ).fetchall():
        recorded.setdefault(day, {})[path] = FileState(size, modified_at, sha)
    return recorded


def _fingerprint(landing_date: date, files: dict[str, FileState]) -> str:
    text = "\n".join(
        f"{name}|{state.size_bytes}|{state.modified_at.isoformat()}"
        for name, state in sorted(files.items())
    )
    return hashlib.sha256(f"{landing_date}\n{text}".encode()).hexdigest()[:20]


def folder_fingerprint(settings: Settings, landing_date: date) -> str | None:
    """The state of one landing day's files as they are now (same files, same
    fingerprint; the fingerprint changed_landing_days gives a changed day), or None when
    the day has no files."""
    now = current_files(settings, landing_date)
    return _fingerprint(landing_date, now) if now else None


def changed_landing_days(
    settings: Settings,
    recorded: dict[date, dict[str, FileState]],
    also_loaded: Iterable[date] = (),
) -> list[LandingDayChange]:
    """Loaded days whose landing files differ from what their last load read.

    `also_loaded` names days loaded while their folder was empty or missing (they have
    no rows in raw.ingested_files), so that files arriving for them later count as new.
    """
    changes = []
    for day in sorted(set(recorded) | set(also_loaded)):
        before = {_key(settings, Path(p)): state for p, state in recorded.get(day, {}).items()}
        paths = _current_paths(settings, day)
        now = _states(paths)  # from the same listing: each day's folders are listed once
        added = sorted(set(now) - set(before))
        removed = sorted(set(before) - set(now))
        changed = []
        for name in sorted(set(now) & set(before)):
            old, new = before[name], now[name]
            if old.size_bytes != new.size_bytes:
                changed.append(name)
            elif old.modified_at != new.modified_at:
                if file_sha256(paths[name]) != old.sha256:
                    changed.append(name)
        if added or removed or changed:
            changes.append(
                LandingDayChange(
                    day, tuple(added), tuple(changed), tuple(removed), _fingerprint(day, now)
                )
            )
    return changes
