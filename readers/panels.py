"""The dashboard's panels, read from the marts' dbt YAML, the one place they are declared.

`dbt_project/models/marts/_marts__models.yml` gives each mart a `config.meta` with its
`tab`, `panel` title, and for a breakdown panel the dimension it lists (`breakdown`) and
the order of its rows (`order_by`); each metric column has `config.meta.metric`, the
dashboard number it holds, and `config.meta.unit` (one of UNITS) how it reads.
`llm-usage report`, the docs generator (tools/metrics_doc.py) and the dashboard read the
panels from here:

    from readers.panels import load_panels
    for panel in load_panels():
        panel.tab, panel.title, panel.mart, panel.breakdown, panel.order_by
        [(m.column, m.label) for m in panel.metrics]
        column_unit(panel.mart, "requests")  # Unit("count")
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

# The dbt project sits beside the packages in the checkout (installed editable by
# `make setup`), so the path is found from the code itself, whatever the working directory.
MARTS_YAML = (
    Path(__file__).resolve().parent.parent
    / "dbt_project"
    / "models"
    / "marts"
    / "_marts__models.yml"
)
TABS = ("Usage", "Provider", "Performance")
# The units a mart column reads in, the closed set `config.meta.unit` takes; what each
# looks like in the report is readers/report.py's, which formats each of them.
UNITS = {
    "count": "a whole number of requests, tokens, calls, end users...",
    "rank": "a place in an order, 1 first",
    "usd": "US dollars",
    "usd_per_million_tokens": "US dollars per million tokens",
    "ms": "milliseconds",
    "tokens_per_second": "output tokens per second",
    "share": "0..1, the row's part of all the panel's rows' `of` (tokens, requests, spend)",
    "ratio": "0..1, the row's part of what `of` names (requests, the filter's failures)",
    "text": "a name or id, as the logs give it",
    "flag": "true or false",
}
# The units whose `of` says what they are a part of (and no other has one).
PARTS = ("share", "ratio")


@dataclass(frozen=True)
class Metric:
    column: str  # the mart column holding the number
    label: str  # the dashboard's name for it
    description: str  # its definition, as docs/metrics.md shows it


@dataclass(frozen=True)
class Panel:
    tab: str
    title: str
    mart: str
    breakdown: str | None = None  # the dimension a breakdown panel lists, one row each
    order_by: str | None = None  # SQL order of a breakdown panel's rows (ties by breakdown)
    metrics: tuple[Metric, ...] = ()
    description: str = ""
    # The columns a breakdown is listed within, with the value shown first (`example`:
    # {dimension: team} lists the groups of one dimension, {tag_key: env} one key's values).
    example: tuple[tuple[str, str], ...] = ()

    @property
    def within(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.example)


@dataclass(frozen=True)
class Unit:
    name: str  # one of UNITS
    of: str | None = None  # for a share or ratio: what it is a part of, in words


def _meta(node: dict) -> dict:
    return (node.get("config") or {}).get("meta") or {}


def _unit(model: str, column: dict) -> Unit | None:
    """A column's declared unit; a clear error for one outside UNITS or a 0..1 figure
    that does not say what it is a part of."""
    meta = _meta(column)
    if "unit" not in meta:
        return None
    unit = Unit(meta["unit"], meta.get("of"))
    where = f"{MARTS_YAML.name}: {model}.{column['name']}"
    if unit.name not in UNITS:
        raise ValueError(f"{where}: unit {unit.name!r} is not one of {', '.join(UNITS)}")
    if (unit.name in PARTS) != bool(unit.of):
        raise ValueError(f"{where}: give `of` with a unit of {' or '.join(PARTS)}, and only then")
    return unit


def load_mart_models(path: Path = MARTS_YAML) -> list[dict]:
    """The marts' model entries of the YAML, as written."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: the panels are read from the dbt project of the checkout."
        )
    # libyaml's loader where PyYAML has it: the pure-Python one takes a tenth of a second.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(), Loader=loader)["models"]


def panels_from_models(models: list[dict]) -> tuple[Panel, ...]:
    panels = []
    for model in models:
        meta = _meta(model)
        if "tab" not in meta:
            continue
        if meta["tab"] not in TABS:
            raise ValueError(f"{model['name']}: tab {meta['tab']!r} is not one of {TABS}")
        panels.append(
            Panel(
                tab=meta["tab"],
                title=meta["panel"],
                mart=model["name"],
                breakdown=meta.get("breakdown"),
                order_by=meta.get("order_by"),
                metrics=tuple(
                    Metric(
                        c["name"], _meta(c)["metric"], " ".join(c.get("description", "").split())
                    )
                    for c in model["columns"]
                    if "metric" in _meta(c)
                ),
                description=" ".join(model.get("description", "").split()),
                example=tuple((str(k), str(v)) for k, v in (meta.get("example") or {}).items()),
            )
        )
    # Tab by tab, each tab's panels in the YAML's order.
    return tuple(sorted(panels, key=lambda p: TABS.index(p.tab)))


def units_from_models(models: list[dict]) -> dict[str, dict[str, Unit]]:
    """Each mart's columns that declare a unit, with it."""
    return {
        model["name"]: {
            column["name"]: unit
            for column in model["columns"]
            if (unit := _unit(model["name"], column)) is not None
        }
        for model in models
    }


@cache
def load_units(path: Path = MARTS_YAML) -> dict[str, dict[str, Unit]]:
    """Every mart's column units, as the YAML declares them."""
    return units_from_models(load_mart_models(path))


def column_unit(mart: str, column: str) -> Unit | None:
    """The unit the YAML declares for a mart's column; None where it declares none."""
    return load_units().get(mart, {}).get(column)


@cache
def load_panels(path: Path = MARTS_YAML) -> tuple[Panel, ...]:
    """Every dashboard panel, tab by tab (Usage, Provider, Performance)."""
    return panels_from_models(load_mart_models(path))
