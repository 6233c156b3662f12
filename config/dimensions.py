"""The dimensions every figure can be cut by, as dbt_project/dbt_project.yml declares them
(`vars: dimensions:`): the one declaration that dbt's models and the Python side (the
source adapters, the page, the report, the CLI) all follow.

`load_dimensions()` reads it once per process, on first use. A declaration that breaks
the shape below raises `DimensionsError` with one line naming the entry and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

DBT_PROJECT_FILE = Path(__file__).resolve().parent.parent / "dbt_project" / "dbt_project.yml"
CARDINALITIES = ("low", "high", "multi")
# `sources: adapter`: every adapter maps the dimension in its own code (derived values,
# such as the provider a model implies); the other dimensions are read where `sources`
# says, by ingest/sources/ alone.
MAPPED_BY_ADAPTER = "adapter"


class DimensionsError(ValueError):
    """The dimensions declared in dbt_project.yml cannot be used as they are."""


@dataclass(frozen=True)
class Dimension:
    name: str  # e.g. team: the CLI flag --team, the page's filter key
    label: str  # shown on the page and in the report
    column: str  # the id column of raw, facts and marts
    name_column: str | None  # the display-name column, None where the id is shown
    cardinality: str  # low | high | multi
    filter: bool  # a page and report filter
    # Source format -> the record paths the value is read from, first present wins
    # (empty: the format does not carry it); None: mapped by each adapter's own code.
    sources: dict[str, tuple[str, ...]] | None = field(default=None, hash=False)
    name_sources: dict[str, tuple[str, ...]] | None = field(default=None, hash=False)

    def paths(self, source_format: str) -> tuple[str, ...]:
        """Where `source_format`'s records carry the id (empty: they do not)."""
        return (self.sources or {}).get(source_format, ())

    def name_paths(self, source_format: str) -> tuple[str, ...]:
        """Where `source_format`'s records carry the display name (empty: they do not)."""
        return (self.name_sources or {}).get(source_format, ())


def _paths(entry: str, key: str, value: object) -> dict[str, tuple[str, ...]] | None:
    if value == MAPPED_BY_ADAPTER or value is None:
        return None
    if not isinstance(value, dict):
        raise DimensionsError(
            f"dimension {entry!r}: {key} must map each source format to a path, a list of "
            f"paths or null, or be {MAPPED_BY_ADAPTER!r}; got {value!r}"
        )
    result = {}
    for source_format, paths in value.items():
        paths = [] if paths is None else [paths] if isinstance(paths, str) else paths
        if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
            raise DimensionsError(
                f"dimension {entry!r}: {key}.{source_format} must be a path, a list of paths "
                f"or null; got {paths!r}"
            )
        result[str(source_format)] = tuple(paths)
    return result


def parse_dimensions(entries: object) -> tuple[Dimension, ...]:
    """The declaration's entries (the YAML list) as Dimensions, checked."""
    if not isinstance(entries, list) or not entries:
        raise DimensionsError("vars: dimensions: in dbt_project.yml must be a non-empty list")
    result: list[Dimension] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise DimensionsError(f"dimension #{index + 1} must be a mapping with a name")
        name = entry["name"]
        for key in ("label", "column"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise DimensionsError(f"dimension {name!r}: {key} must be a non-empty string")
        if entry.get("cardinality") not in CARDINALITIES:
            raise DimensionsError(
                f"dimension {name!r}: cardinality must be one of {' | '.join(CARDINALITIES)}, "
                f"got {entry.get('cardinality')!r}"
            )
        if entry.get("filter", False) and entry["cardinality"] != "low":
            raise DimensionsError(f"dimension {name!r}: only a low-cardinality one is a filter")
        name_column = entry.get("name_column")
        if name_column is not None and not isinstance(name_column, str):
            raise DimensionsError(f"dimension {name!r}: name_column must be a string or null")
        result.append(
            Dimension(
                name=name,
                label=entry["label"],
                column=entry["column"],
                name_column=name_column,
                cardinality=entry["cardinality"],
                filter=bool(entry.get("filter", False)),
                sources=_paths(name, "sources", entry.get("sources")),
                name_sources=_paths(name, "name_sources", entry.get("name_sources")),
            )
        )
    for attribute in ("name", "column"):
        seen = [getattr(d, attribute) for d in result]
        repeated = sorted({v for v in seen if seen.count(v) > 1})
        if repeated:
            raise DimensionsError(f"dimensions declare the {attribute} {repeated[0]!r} twice")
    return tuple(result)


@cache
def load_dimensions(path: Path = DBT_PROJECT_FILE) -> tuple[Dimension, ...]:
    """The declared dimensions, in their declared order (read once per process)."""
    try:
        project = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise DimensionsError(f"cannot read the dimensions from {path}: {error}") from None
    return parse_dimensions(((project or {}).get("vars") or {}).get("dimensions"))


def dimension(name: str) -> Dimension:
    """The declared dimension called `name`."""
    for declared in load_dimensions():
        if declared.name == name:
            return declared
    raise DimensionsError(f"no dimension {name!r} is declared in {DBT_PROJECT_FILE}")
