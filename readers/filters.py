"""The filters of the page, the report and the export, as the dimensions declaration says
(dbt_project.yml `vars: dimensions:`, read by config/dimensions.py): which dimensions
filter, their labels, and the filter combinations the marts hold.

The held combinations mirror `filter_sets()` in dbt_project/macros/dimensions.sql, the
rule the marts' GROUPING SETS are built from: a filter with a display name (a party that
spends: API key, organization, team, project) one at a time or none, each with every
subset of the filters without one (model, provider). `held_filter_sets()` is the one
Python statement of it; tests/test_dimension_readers.py checks it against the marts' rows.
"""

from __future__ import annotations

from config.dimensions import Dimension, load_dimensions

ALL = "*"  # a filter column's "all" value in every mart
# The id a request without a dimension lands under (macros/dimensions.sql,
# no_dimension_value(); the contract reserves it).
NONE = "(none)"


class FilterError(ValueError):
    """A filter combination the marts do not hold; the message is one line for the user."""


def filter_dimensions() -> tuple[Dimension, ...]:
    """The declared filters, in the declaration's order."""
    return tuple(d for d in load_dimensions() if d.filter)


def filter_columns() -> tuple[str, ...]:
    """The marts' filter columns (api_key_id, model, provider, organization_id, ...)."""
    return tuple(d.column for d in filter_dimensions())


def by_column(column: str) -> Dimension:
    """The declared filter dimension whose id column is `column`."""
    return next(d for d in filter_dimensions() if d.column == column)


def in_sentence(dimension: Dimension) -> str:
    """A dimension's label inside a sentence: 'API key', 'model', 'team'."""
    label = dimension.label
    return label if label.split()[0].isupper() else label.lower()


def parties() -> tuple[Dimension, ...]:
    """The filters with a display name (who spends): held one at a time."""
    return tuple(d for d in filter_dimensions() if d.name_column)


def crossed() -> tuple[Dimension, ...]:
    """The filters without a display name (model, provider): held in every subset."""
    return tuple(d for d in filter_dimensions() if not d.name_column)


def held_filter_sets() -> tuple[frozenset[str], ...]:
    """Every filter combination the marts hold, each the set of filter columns that keep
    a real value (the others are '*'), in the order of macros/dimensions.sql."""
    free = [d.column for d in crossed()]
    sets = []
    for party in [None, *(d.column for d in parties())]:
        for mask in range(2 ** len(free)):
            kept = {c for i, c in enumerate(free) if mask >> i & 1}
            sets.append(frozenset(kept | ({party} if party else set())))
    return tuple(sets)


def held_in_words() -> str:
    """The held combinations in one phrase, for the page and the CLI's errors."""
    names = [d.label for d in parties()]
    one_of = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    with_ = " and ".join(d.label.lower() for d in crossed())
    return f"one of {one_of} at a time" + (f", with any {with_}" if with_ else "")


def chosen_columns(chosen: dict[str, str]) -> frozenset[str]:
    """The filter columns `chosen` sets to one value."""
    return frozenset(c for c, v in chosen.items() if v != ALL)


def check_held(chosen: dict[str, str]) -> None:
    """Refuse a filter combination no mart holds, in one line saying which are held."""
    kept = chosen_columns(chosen)
    if kept in held_filter_sets():
        return
    named = " and ".join(by_column(c).label for c in filter_columns() if c in kept)
    raise FilterError(
        f"The marts do not hold {named} together; they hold {held_in_words()}. "
        "Keep one of them and drop the others."
    )


def everything() -> dict[str, str]:
    """No filter: every filter column at '*'."""
    return dict.fromkeys(filter_columns(), ALL)


def all_rows_sql(*kept: str) -> str:
    """The SQL condition of a mart's rows for every filter but `kept` at '*' (all):
    `all_rows_sql()` is the all-traffic row, `all_rows_sql("model")` a breakdown by model.
    Every filter column must be named, or a query also matches the rows of each party
    (API key, organization, team, project)."""
    return " AND ".join(f"{column} = '{ALL}'" for column in filter_columns() if column not in kept)
