"""The declared dimensions (organization, team, project, end user, tags: config/dimensions.py)
as each source adapter reads them: the paths the declaration names for the adapter's
format, read and checked like its other fields, mapped onto the contract's columns.

No adapter names these paths itself: a dimension added to the declaration reaches every
format the declaration gives a path for. Dimensions mapped by each adapter's own code
(`sources: adapter`: key, model, provider) are left to the adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from config.dimensions import DimensionsError, load_dimensions
from ingest import contract
from ingest.sources.sql import Read, kind, path_column, read_string, shown, unquoted


@dataclass(frozen=True)
class DimensionFields:
    """What an adapter adds for the declared dimensions: the source `paths` to extract,
    the `reads` (checked like the adapter's own), the contract `columns` they give, and
    `reasons` (sentences, or NULL) for values that cannot be read."""

    paths: list[str]
    reads: dict[str, Read]
    columns: dict[str, str]
    reasons: list[str]


def _first_present(values: list[str]) -> str:
    """The first value that is there and not empty (a gateway writes "" for "none")."""
    present = [f"nullif({v}, '')" for v in values]
    if not present:
        return "NULL::VARCHAR"
    return present[0] if len(present) == 1 else f"coalesce({', '.join(present)})"


def tags_json(value: str) -> str:
    """A tag list as JSON: a JSON list as it is, or the list a JSON string holds as text
    (a CSV cell, a database's JSON column exported as text); "" and null are none.
    Anything else is kept as it is, for `tags_failure` to name."""
    value = path_column(value)
    text = unquoted(value)
    return (
        f"(CASE WHEN {value} IS NULL THEN NULL "
        f"WHEN {kind(value)} = 'string' AND trim({text}) = '' THEN NULL "
        f"WHEN {kind(value)} = 'string' THEN coalesce(try(CAST({text} AS JSON)), {value}) "
        f"ELSE {value} END)"
    )


def tags_failure(name: str, value: str) -> str:
    """The sentence naming source field `name` where its tags are not a list (the
    contract then judges the list's items: strings, length, characters, how many)."""
    tags = tags_json(value)
    return (
        f"CASE WHEN {tags} IS NOT NULL AND json_type({tags}) <> 'ARRAY' "
        f"THEN '\"{name}\" must be a list of strings (or JSON text of one), got ' "
        f"|| {shown(path_column(value))} END"
    )


def dimension_fields(source_format: str, column_of: Callable[[str], str]) -> DimensionFields:
    """The declared dimensions for `source_format`. `column_of(path)`: the SQL the
    adapter reads a declared path's JSON value from (`r.a.b`, or `m.b` for a path inside
    a field that holds JSON text)."""
    paths: list[str] = []
    reads: dict[str, Read] = {}
    columns: dict[str, str] = {}
    reasons: list[str] = []
    list_fields = {f.name for f in contract.fields() if f.items is not None}
    for dimension in load_dimensions():
        if dimension.sources is None:
            continue  # mapped by each adapter's own code
        targets = [(dimension.column, dimension.paths(source_format))]
        if dimension.name_column is not None:
            targets.append((dimension.name_column, dimension.name_paths(source_format)))
        for field, field_paths in targets:
            paths += [p for p in field_paths if p not in paths]
            if field in list_fields:
                if len(field_paths) > 1:
                    raise DimensionsError(
                        f"dimension {dimension.name!r}: sources.{source_format} must be one "
                        f"path: {field} is a list, read from one field"
                    )
                if not field_paths:
                    columns[field] = "NULL::JSON"
                    continue
                columns[field] = tags_json(column_of(field_paths[0]))
                reasons.append(tags_failure(field_paths[0], column_of(field_paths[0])))
                continue
            names = []
            for index, path in enumerate(field_paths):
                name = f"dimension_{field}_{index}"
                reads[name] = read_string(path, column_of(path), feeds=field)
                names.append(name)
            columns[field] = _first_present(names)
    return DimensionFields(paths, reads, columns, reasons)
